// A container's status is computed live, never trusted from disk: the init's pid must
// still name the same process (same start time), and exec.fifo marks "created".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OCI_VERSION } from '../spec/oci-version';
import type { ContainerStatus, State } from '../spec/types';
import { containerCgroups } from '../cgroups';
import { isSameProcessAlive } from './proc';
import { EXEC_FIFO, STARTING, type ContainerRecord } from './store';

export function computeStatus(record: ContainerRecord, dir: string): ContainerStatus {
  if (record.initPid <= 0) return 'stopped';
  if (!isSameProcessAlive(record.initPid, record.initStartTime)) return 'stopped';
  if (containerCgroups(record, record.id).isFrozen()) return 'paused';
  if (!record.started && fs.existsSync(path.join(dir, EXEC_FIFO)) && !startedUnrecorded(record.initPid, dir))
    return 'created';
  return 'running';
}

/** A `start` killed after releasing the init, before recording it: the fifo is still there. */
function startedUnrecorded(pid: number, dir: string): boolean {
  return fs.existsSync(path.join(dir, STARTING)) && leftFifo(pid, path.join(dir, EXEC_FIFO));
}

/**
 * true when the init holds no fd on exec.fifo any more: it has exec'd the user process (the
 * fifo is held from the fork until execve). false when the init's fds cannot be read.
 */
export function leftFifo(pid: number, fifo: string): boolean {
  let fifoStat: fs.Stats;
  let fds: string[];
  try {
    fifoStat = fs.statSync(fifo);
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      // Only fds whose link names a fifo of that name are stat'ed: a stat follows the link, and
      // on a hung FUSE or NFS file it would hang this command too.
      if (!fs.readlinkSync(`/proc/${pid}/fd/${fd}`).includes(EXEC_FIFO)) continue;
      const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
      if (st.ino === fifoStat.ino && st.dev === fifoStat.dev) return false;
    } catch {
      // closed meanwhile
    }
  }
  return true;
}

/** The document `state` prints and hooks receive on stdin. */
export function stateDocument(record: ContainerRecord, status: ContainerStatus, owner: string): State {
  const doc: State = {
    ociVersion: OCI_VERSION,
    id: record.id,
    pid: status === 'stopped' ? 0 : record.initPid,
    status,
    bundle: record.bundle,
    rootfs: record.rootfs,
    created: record.created,
    owner,
  };
  if (record.annotations !== undefined && Object.keys(record.annotations).length > 0)
    doc.annotations = record.annotations;
  return doc;
}

/** runc reports the owner as the user name of the state directory's uid. */
export function ownerOf(dir: string): string {
  let uid: number;
  try {
    uid = fs.statSync(dir).uid;
  } catch {
    return '';
  }
  return userName(uid) ?? `#${uid}`;
}

function userName(uid: number): string | undefined {
  if (uid === 0) return 'root';
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(uid)) return f[0];
    }
  } catch {
    // no passwd file: fall through
  }
  return undefined;
}
