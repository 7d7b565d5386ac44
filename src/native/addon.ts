// The typed face of the C++ addon (native/). Everything the addon does is declared
// here; nothing else in src/ touches the binding object directly.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NativeBinding {
  napiVersion: number;
  /** Advisory lock on an open fd; throws with code EWOULDBLOCK when !wait and held. */
  flock(fd: number, exclusive: boolean, wait: boolean): void;
  /** true when fd is readable ('r') or writable ('w') within timeoutMs (-1: forever). */
  poll(fd: number, events: 'r' | 'w', timeoutMs: number): boolean;
  /** A connected unix stream socket (close-on-exec). */
  connectUnix(socketPath: string): number;
  /** kill(2); false when the process does not exist. */
  kill(pid: number, signal: number): boolean;
}

let binding: NativeBinding | undefined;

/** Where build/Release/tsrunc.node lives: next to dist/ in a build, or the repo root in tests. */
function addonPath(): string {
  const candidates = [
    path.join(__dirname, '..', 'build', 'Release', 'tsrunc.node'),
    path.join(__dirname, '..', '..', 'build', 'Release', 'tsrunc.node'),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return candidates[0] as string;
}

export function native(): NativeBinding {
  if (binding === undefined) {
    // A computed require keeps esbuild from trying to bundle the .node file.
    const load = require as (id: string) => unknown;
    binding = load(addonPath()) as NativeBinding;
  }
  return binding;
}
