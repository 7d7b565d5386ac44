// bin/tsrunc's entry (bundled to dist/boot.cjs): runs the CLI bundle dist/tsrunc.cjs from a
// V8 code cache (dist/tsrunc.cjs.cache, written by scripts/build.mjs), which spares every
// command the parse and compile of the bundle (~10 ms). Unlike a startup snapshot, a code
// cache holds bytecode, not machine code: V8 checks its version and flags and rejects a cache
// that does not fit, and then compiles the source as usual. V8 checks only the length of the
// source, so the cache also records the bundle's size, mtime, inode and ctime and is ignored when they
// differ (a bundle rebuilt without its cache runs, just slower). There are two caches: the
// commands that validate a config and plan a container (create, run, exec, update) use one
// that holds that code too; the others a smaller one, quicker to load.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

// SIGUSR1 without a listener opens node's inspector (unauthenticated, on 127.0.0.1:9229) in
// this root process: anything that may signal it (a container sharing the host's pid namespace)
// would get code run as root. A listener of its own, never removed, keeps that off.
process.on('SIGUSR1', () => undefined);

const BUNDLE = path.join(__dirname, 'tsrunc.cjs');

export type CacheKind = 'light' | 'full';

export function cacheFile(kind: CacheKind): string {
  return `${BUNDLE}.${kind}.cache`;
}

const FULL = new Set(['create', 'run', 'exec', 'update']);

/** Which cache fits a command line (a container id that reads like a command only costs time). */
export function cacheFor(argv: string[]): CacheKind {
  return argv.some((a) => FULL.has(a)) ? 'full' : 'light';
}

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

function readCache(kind: CacheKind, stamp: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(cacheFile(kind));
  } catch {
    return undefined;
  }
  const head = Buffer.from(stamp);
  if (data.length <= head.length || !data.subarray(0, head.length).equals(head)) return undefined;
  return data.subarray(head.length);
}

/** Compiles (from the `kind` cache, or from source without one) and runs the bundle's top level. */
export function load(kind: CacheKind | undefined): Loaded {
  const fd = fs.openSync(BUNDLE, 'r');
  let source: string;
  let stamp: string;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    // ino and ctime too: copy tools can keep size and mtime (npm pack, SOURCE_DATE_EPOCH), never ctime.
    stamp = `tsrunc-code-cache ${process.version} ${process.arch} ${st.size} ${st.mtimeNs} ${st.ino} ${st.ctimeNs}\n`;
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  const cachedData = kind === undefined ? undefined : readCache(kind, stamp);
  // The wrapper Node puts around a CommonJS module, on a line of its own that lineOffset takes
  // back out: positions in stack traces are those of the file (and of its source map).
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, {
    filename: BUNDLE,
    lineOffset: -1,
    cachedData,
  });
  const mod = { exports: {} as CliModule };
  const wrapper = script.runInThisContext() as (this: unknown, ...args: unknown[]) => void;
  // This module's require serves the bundle: it asks only for built-ins and the addon by absolute path.
  wrapper.call(mod.exports, mod.exports, require, mod, BUNDLE, path.dirname(BUNDLE));
  return { exports: mod.exports, script, stamp, fromCache: cachedData !== undefined && !script.cachedDataRejected };
}

/**
 * Build step: runs `commands` in this process (output goes wherever fds 1 and 2 point) so that
 * the functions they use are compiled, then writes the cache. Run with bin/tsrunc's node flags:
 * V8 rejects a cache made under other flags.
 */
export async function train(kind: CacheKind, commands: string[][]): Promise<void> {
  const loaded = load(undefined);
  for (const argv of commands) await loaded.exports.main(argv);
  const file = cacheFile(kind);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(loaded.stamp), loaded.script.createCachedData()]));
  fs.renameSync(tmp, file);
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  load(cacheFor(argv)).exports.cli(argv);
}
