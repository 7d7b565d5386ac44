// `start`: release an init blocked on exec.fifo and return once it has exec'd the user
// process (the fifo's write end is close-on-exec, so EOF means execve happened).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, systemError } from '../errors';
import type { Logger } from '../log';
import { native } from '../native/addon';
import { isSameProcessAlive } from '../state/proc';
import { computeStatus, leftFifo, ownerOf, stateDocument } from '../state/status';
import { STARTING, type ContainerHandle, type ContainerRecord } from '../state/store';
import { faultPoint } from '../util/faults';
import { runHooks } from './hooks';
import { NotifyProxy } from './notify';

/**
 * Releases the init. With the caller's NOTIFY_SOCKET and a container created with one, returns
 * the bound proxy, for the caller to wait for READY=1 once the container's lock is released.
 */
export function startContainer(handle: ContainerHandle, log: Logger): NotifyProxy | undefined {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  if (status === 'stopped')
    throw new TsruncError('state', 'cannot start a container that has stopped', { containerId: record.id });
  if (status !== 'created')
    throw new TsruncError('state', `cannot start an already ${status} container`, { containerId: record.id });
  // Tells `state` to look whether the init is past the fifo, should we be killed from here.
  try {
    fs.writeFileSync(path.join(handle.dir, STARTING), '');
  } catch (err) {
    throw systemError(`writing ${path.join(handle.dir, STARTING)}`, err, record.id);
  }
  faultPoint('start:locked');
  // (bound before the init runs, so that a READY=1 it sends at once is not lost)
  const notify = NotifyProxy.open(handle.dir, record.id);
  try {
    const output = releaseInit(handle, record);
    faultPoint('start:released');
    if (output !== '')
      throw new TsruncError('system', `starting container process: ${output}`, { containerId: record.id });
  } catch (err) {
    notify?.close();
    throw err;
  }
  record.started = true;
  handle.write(record, 'start:state-tmp');
  // The container runs and its record says so: what is left here only costs a little space.
  for (const leftover of [handle.fifoPath, path.join(handle.dir, STARTING)]) {
    try {
      fs.rmSync(leftover, { force: true });
    } catch (err) {
      log.warn(systemError(`removing ${leftover}`, err, record.id).message);
    }
  }
  runHooks(record.config, 'poststart', stateDocument(record, 'running', ownerOf(handle.dir)), log, 'warn');
  return notify;
}

/** What a non-blocking fd holds right now ('' when nothing). */
function readAvailable(fd: number, buf: Buffer): string {
  try {
    const got = fs.readSync(fd, buf);
    return buf.toString('utf8', 0, got);
  } catch (err) {
    if (isErrno(err, 'EAGAIN')) return '';
    throw err;
  }
}

/** Opens the fifo, takes the init's byte, waits for EOF. Returns any error text the init sent. */
function releaseInit(handle: ContainerHandle, record: ContainerRecord): string {
  const n = native();
  let fd: number;
  try {
    fd = fs.openSync(handle.fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ENOENT'))
      throw new TsruncError('state', 'cannot start an already running container', { containerId: record.id });
    throw err;
  }
  const buf = Buffer.alloc(4096);
  let received = '';
  try {
    for (;;) {
      if (!n.poll(fd, 'r', 100)) {
        if (!isSameProcessAlive(record.initPid, record.initStartTime)) break;
        // Exec'd before we came (a start killed before recording it): no byte will come. But
        // the init may also have written its byte and exec'd since the poll: look first.
        if (received === '' && leftFifo(record.initPid, handle.fifoPath)) {
          const late = readAvailable(fd, buf);
          if (late === '')
            throw new TsruncError('state', 'cannot start an already running container', { containerId: record.id });
          received += late;
        }
        continue;
      }
      let got: number;
      try {
        got = fs.readSync(fd, buf);
      } catch (err) {
        if (isErrno(err, 'EAGAIN')) continue;
        throw err;
      }
      if (got === 0) {
        if (received.length > 0) break; // the write end closed at execve
        continue; // no writer connected yet
      }
      received += buf.toString('utf8', 0, got);
    }
  } finally {
    fs.closeSync(fd);
  }
  if (received === '')
    throw new TsruncError('system', 'container init exited before start', { containerId: record.id });
  // "0" is the release byte; anything after it is an error the init reported at exec.
  const rest = received.slice(1);
  const m = /^error \d+ \S+ (.*)$/s.exec(rest);
  return m ? (m[1] ?? rest) : rest;
}
