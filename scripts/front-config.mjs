// Where bin/tsrunc (the native front, native/front/front.cc) finds node, the bundles and the
// resident server: scripts/build.mjs writes them into the binary it installs, in the region
// `tsrunc_front_config` that begins with MARKER (its only copy in the binary). Tests use it to
// make fronts of their own (another node, another socket, another build id).

export const MARKER = 'TSRUNC-FRONT-CONFIG-v1\n';
/** sizeof tsrunc_front_config in front.cc. */
export const REGION = 8192;

/**
 * A copy of the front `image` with `config` written in: node, boot, daemon, socket, build
 * (strings), flags (node's flags, in order), replyTimeoutMs (a number).
 */
export function patchFrontConfig(image, config) {
  const marker = Buffer.from(MARKER);
  const at = image.indexOf(marker);
  if (at < 0 || image.indexOf(marker, at + 1) >= 0)
    throw new Error('the front binary does not hold exactly one configuration region');
  const pairs = [];
  for (const key of ['node', 'boot', 'daemon', 'socket', 'build'])
    if (config[key] !== undefined) pairs.push(key, String(config[key]));
  for (const f of config.flags ?? []) pairs.push('flag', f);
  if (config.replyTimeoutMs !== undefined) pairs.push('reply-timeout-ms', String(config.replyTimeoutMs));
  for (const p of pairs)
    if (p.includes('\0')) throw new Error(`a front configuration value holds a NUL: ${JSON.stringify(p)}`);
  const payload = Buffer.from(pairs.map((p) => `${p}\0`).join('') + '\0');
  if (marker.length + payload.length >= REGION) throw new Error('the front configuration does not fit its region');
  const out = Buffer.from(image);
  out.fill(0, at + marker.length, at + REGION);
  payload.copy(out, at + marker.length);
  return out;
}

/** What a front `image` holds (the pairs patchFrontConfig wrote), as patchFrontConfig takes it. */
export function readFrontConfig(image) {
  const marker = Buffer.from(MARKER);
  const at = image.indexOf(marker);
  if (at < 0) throw new Error('not a tsrunc front (no configuration region)');
  const words = image
    .subarray(at + marker.length, at + REGION)
    .toString('utf8')
    .split('\0');
  const out = { flags: [] };
  for (let i = 0; i + 1 < words.length && words[i] !== ''; i += 2) {
    const [key, value] = [words[i], words[i + 1]];
    if (key === 'flag') out.flags.push(value);
    else if (key === 'reply-timeout-ms') out.replyTimeoutMs = Number(value);
    else out[key] = value;
  }
  return out;
}
