// Commands are synchronous and single-purpose: a short wait blocks the thread outright.
let cell: Int32Array | undefined;

export function sleepMs(ms: number): void {
  // Made on first use: a V8 startup snapshot cannot hold a SharedArrayBuffer.
  cell ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(cell, 0, 0, ms);
}
