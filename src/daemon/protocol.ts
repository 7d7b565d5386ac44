// The resident server's protocol numbers: native/front/protocol.h is their source (the front
// and the addon include it); these are the same numbers for the TypeScript side, and
// test/unit/daemon-protocol.test.ts fails when the two disagree.
export const DAEMON_PROTOCOL_VERSION = 3;
export const DAEMON_BUILD_ID_LEN = 32;
export const DAEMON_MAGIC_REQUEST = 0x51525354;
export const DAEMON_MAGIC_REPLY = 0x59525354;
export const DAEMON_MAGIC_GO = 0x4f475354;
export const DAEMON_MAGIC_STATUS = 0x54535354;
export const DAEMON_MAGIC_SPAWN = 0x50535354;
export const DAEMON_MAGIC_SPAWNED = 0x44535354;
export const DAEMON_MAGIC_CHILD = 0x48435354;
export const DAEMON_MAGIC_SIGNAL = 0x47535354;
export const DAEMON_REQUEST_WORDS = 7;
export const DAEMON_FD_STDIN = 1;
export const DAEMON_FD_STDOUT = 2;
export const DAEMON_FD_STDERR = 4;
export const DAEMON_MAX_STRINGS = 4194304;
export const DAEMON_REPLY_WORDS = 4;
export const DAEMON_REPLY_READY = 1;
export const DAEMON_REPLY_DIRECT = 2;
export const DAEMON_REPLY_REFUSED = 3;
export const DAEMON_REPLY_MISMATCH = 4;
export const DAEMON_STATUS_WORDS = 3;
export const DAEMON_STATUS_EXITED = 1;
export const DAEMON_STATUS_SIGNALED = 2;
export const DAEMON_STATUS_NONE = 3;
export const DAEMON_SPAWN_WORDS = 4;
export const DAEMON_SPAWN_FIXED_FDS = 3;
export const DAEMON_SPAWN_MAX_SLOTS = 16;
export const DAEMON_SPAWN_MAX_PRESERVE = 65536;
export const DAEMON_SPAWN_SUBREAPER = 1;
export const DAEMON_SPAWNED_WORDS = 3;
export const DAEMON_CHILD_WORDS = 4;
export const DAEMON_SIGNAL_WORDS = 3;
export const DAEMON_REPLY_TIMEOUT_MS = 250;
export const DAEMON_DEFAULT_SOCKET = '/run/tsrunc-daemon/tsrunc.sock';

/** The STATUS the server sends the front once the worker that ran its command has exited. */
export function statusMessage(code: number | null, signal: number | null): Buffer {
  const b = Buffer.alloc(DAEMON_STATUS_WORDS * 4);
  b.writeUInt32LE(DAEMON_MAGIC_STATUS, 0);
  if (signal !== null) {
    b.writeUInt32LE(DAEMON_STATUS_SIGNALED, 4);
    b.writeUInt32LE(signal, 8);
  } else {
    b.writeUInt32LE(DAEMON_STATUS_EXITED, 4);
    b.writeUInt32LE((code ?? 1) & 0xff, 8);
  }
  return b;
}

/**
 * The commands a worker runs: create, run and exec (the front starts the container's init or the
 * exec'd process on the worker's SPAWN, so that it is the caller's child or grandchild as runc's
 * is; in the foreground the front, a child subreaper as the direct path's node is, reaps it and
 * what is reparented to it and reports them, the worker forwards the caller's signals (which the
 * front passes on to it) through the front, and relays a pty on the caller's stdio it holds) and
 * those that start no container process. checkpoint and restore take the direct path: among
 * other things, checkpoint --status-fd names an fd of the caller's above 2, which a worker does
 * not hold (it gets stdio only), and the check of it (src/cli/caller-fds.ts) trusts the list
 * bin/tsrunc made for the node it execs.
 */
export const SERVED_COMMANDS: ReadonlySet<string> = new Set([
  'create',
  'state',
  'list',
  'kill',
  'delete',
  'ps',
  'pause',
  'resume',
  'features',
  'events',
  'update',
  'spec',
  'start',
  'run',
  'exec',
]);
