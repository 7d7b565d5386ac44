// The receiving end of a --console-socket: Node cannot receive fds, so it is a small python3
// program (socket.recv_fds) that types commands into the pty master it gets and copies what
// comes back to a file.
import { spawn, type ChildProcess } from 'node:child_process';
import { killChild, type Teardownable } from './tsrunc';

const RECEIVER = `
import os, select, socket, sys
path, text, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(120)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
sys.stderr.write("received %d fd(s), name %s\\n" % (len(fds), msg.decode()))
master = fds[0]
os.write(master, text.encode())
with open(out_path, "wb") as out:
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break  # EIO: every slave fd is closed, the container is gone
        if not data:
            break
        out.write(data)
        out.flush()
`;

/**
 * Starts the receiver; `closed` is true once it has exited and its stdio is closed (so that all
 * it wrote has been read), false if that did not happen within 60 s (the timer is cleared, so
 * that it does not keep this file running for its length).
 */
export function startReceiver(
  t: Teardownable,
  sock: string,
  text: string,
  outFile: string,
  /** Run as this user (the socket and the output file are then theirs). */
  as?: { uid: number; gid: number },
): { child: ChildProcess; stderr: { text: string }; closed: () => Promise<boolean> } {
  const child = spawn('python3', ['-c', RECEIVER, sock, text, outFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(as !== undefined ? { uid: as.uid, gid: as.gid } : {}),
  });
  t.teardown(() => killChild(child));
  const stderr = { text: '' };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (stderr.text += d));
  const closed = new Promise<true>((resolve) => child.once('close', () => resolve(true)));
  return {
    child,
    stderr,
    closed: async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 60_000)));
      try {
        return await Promise.race([closed, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
