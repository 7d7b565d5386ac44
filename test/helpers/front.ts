// bin/tsrunc is the native front (native/front/front.cc) with paths written into it by
// scripts/build.mjs; tests make copies of their own with other paths (a probe instead of the
// CLI, another socket, another build id) the same way.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { patchFrontConfig, type FrontConfig } from '../../scripts/front-config.mjs';
import { REPO_ROOT, TSRUNC, tempDir, type Teardownable } from './tsrunc';

/** The front as node-gyp built it (no paths in it). */
export const FRONT_BUILT = path.join(REPO_ROOT, 'build', 'Release', 'tsrunc-front');

/** What bin/tsrunc holds (read back out of the installed binary). */
export function installedConfig(): Required<Pick<FrontConfig, 'node' | 'boot' | 'daemon' | 'build'>> {
  const image = fs.readFileSync(TSRUNC);
  const marker = Buffer.from('TSRUNC-FRONT-CONFIG-v1\n');
  const at = image.indexOf(marker);
  if (at < 0) throw new Error(`${TSRUNC} is not the native front`);
  const words = image
    .subarray(at + marker.length, at + 8192)
    .toString('latin1')
    .split('\0');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < words.length && words[i] !== ''; i += 2) out[words[i] as string] = words[i + 1] as string;
  return { node: out['node'] ?? '', boot: out['boot'] ?? '', daemon: out['daemon'] ?? '', build: out['build'] ?? '' };
}

/** A copy of the front with `config` written in (the installed one's values where not given). */
export function makeFront(t: Teardownable, config: FrontConfig): string {
  const file = path.join(tempDir(t, 'tsrunc-front'), 'tsrunc');
  fs.writeFileSync(file, patchFrontConfig(fs.readFileSync(FRONT_BUILT), { ...installedConfig(), ...config }), {
    mode: 0o755,
  });
  return file;
}
