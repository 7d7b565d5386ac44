// bin/tsrunc's entry (bundled to dist/boot.cjs): runs the CLI bundle dist/tsrunc.cjs from a
// V8 code cache (dist/tsrunc.cjs.cache, written by scripts/build.mjs), which spares every
// command the parse and compile of the bundle (~10 ms). Unlike a startup snapshot, a code
// cache holds bytecode, not machine code: V8 checks its version and flags and rejects a cache
// that does not fit, and then compiles the source as usual. V8 checks only the length of the
// source, so the cache also records the bundle's size and mtime and is ignored when they
// differ (a bundle rebuilt without its cache runs, just slower).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

const BUNDLE = path.join(__dirname, 'tsrunc.cjs');
const CACHE = `${BUNDLE}.cache`;

interface CliModule {
  main(argv: string[]): Promise<number>;
  cli(argv: string[]): void;
}

export interface Loaded {
  exports: CliModule;
  script: vm.Script;
  /** The first line of a cache file that fits this bundle. */
  stamp: string;
  /** Whether V8 took the code cache. */
  fromCache: boolean;
}

function readCache(stamp: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const head = Buffer.from(stamp);
  if (data.length <= head.length || !data.subarray(0, head.length).equals(head)) return undefined;
  return data.subarray(head.length);
}

/** Compiles (from the cache unless `useCache` is false) and runs the bundle's top level. */
export function load(useCache = true): Loaded {
  const fd = fs.openSync(BUNDLE, 'r');
  let source: string;
  let stamp: string;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    stamp = `tsrunc-code-cache ${process.version} ${process.arch} ${st.size} ${st.mtimeNs}\n`;
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  const cachedData = useCache ? readCache(stamp) : undefined;
  // The wrapper Node puts around a CommonJS module, on the same line (line numbers stay right).
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE, cachedData });
  const mod = { exports: {} as CliModule };
  const wrapper = script.runInThisContext() as (this: unknown, ...args: unknown[]) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, path.dirname(BUNDLE));
  return { exports: mod.exports, script, stamp, fromCache: cachedData !== undefined && !script.cachedDataRejected };
}

/**
 * Build step: runs `commands` in this process (output goes wherever fds 1 and 2 point) so that
 * the functions they use are compiled, then writes the cache. Run with bin/tsrunc's node flags:
 * V8 rejects a cache made under other flags.
 */
export async function train(commands: string[][]): Promise<void> {
  const loaded = load(false);
  for (const argv of commands) await loaded.exports.main(argv);
  const tmp = `${CACHE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(loaded.stamp), loaded.script.createCachedData()]));
  fs.renameSync(tmp, CACHE);
}

if (require.main === module) load().exports.cli(process.argv.slice(2));
