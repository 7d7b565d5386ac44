// The whole lifecycle (create, start, state, kill, delete — the way containerd's shim calls
// it) of containers made from the config.json files real clients wrote (../shared/clients),
// with only the changes this machine needs, each one documented in `adapt` below:
//   - root.path points at a copy of the busybox rootfs; cgroupsPath moves under this test's
//     cgroup parent; args become `sleep 1000`;
//   - linux.seccomp stays: docker's and podman's default profiles are loaded as they are;
//   - hooks whose program is absent here are removed (docker's /proc/PID/exe of dockerd);
//   - rlimits above the current hard limit are lowered to it, and an oomScoreAdj below the
//     current value is dropped (this VM has no CAP_SYS_RESOURCE, which raising a hard limit
//     or lowering oom_score_adj needs — runc fails the same way here);
//   - capabilities outside this host's bounding set are removed (CAP_SYS_RESOURCE, which this
//     VM lacks: runc fails with "unable to apply caps" here too; the recorded privileged config
//     already comes without it);
//   - bind sources that do not exist on this host (files under /var/lib/docker, ...) are
//     replaced by temp files or directories.
// The CRI app container joins the namespaces of a live sandbox container (its recorded
// /proc/PID/ns paths name a long-gone pid).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { CAPABILITIES } from '../../src/spec/linux-names';
import type { Spec } from '../../src/spec/types';
import { CGROUP_PARENT, rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { leftovers, statusField, waitForStatus } from '../helpers/host';
import { NO_CLIENTS, clientConfig, clientsDir, lastLogEntry, tempDir, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason() || (clientsDir() === undefined ? NO_CLIENTS : false);

/** Hard limits of this process (what a container started from here may not exceed). */
function hardLimits(): Map<string, number> {
  const names: Record<string, string> = {
    'Max cpu time': 'RLIMIT_CPU',
    'Max file size': 'RLIMIT_FSIZE',
    'Max data size': 'RLIMIT_DATA',
    'Max stack size': 'RLIMIT_STACK',
    'Max core file size': 'RLIMIT_CORE',
    'Max resident set': 'RLIMIT_RSS',
    'Max processes': 'RLIMIT_NPROC',
    'Max open files': 'RLIMIT_NOFILE',
    'Max locked memory': 'RLIMIT_MEMLOCK',
    'Max address space': 'RLIMIT_AS',
    'Max file locks': 'RLIMIT_LOCKS',
    'Max pending signals': 'RLIMIT_SIGPENDING',
    'Max msgqueue size': 'RLIMIT_MSGQUEUE',
    'Max nice priority': 'RLIMIT_NICE',
    'Max realtime priority': 'RLIMIT_RTPRIO',
    'Max realtime timeout': 'RLIMIT_RTTIME',
  };
  const out = new Map<string, number>();
  for (const line of fs.readFileSync('/proc/self/limits', 'utf8').split('\n')) {
    for (const [label, name] of Object.entries(names)) {
      if (!line.startsWith(label)) continue;
      const hard = line.slice(label.length).trim().split(/\s+/)[1];
      out.set(name, hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard));
    }
  }
  return out;
}

/** Capability names in this process's bounding set. */
function hostBoundingSet(): Set<string> {
  const mask = BigInt(`0x${statusField(fs.readFileSync('/proc/self/status', 'utf8'), 'CapBnd') ?? '0'}`);
  // CAPABILITIES is in the kernel's numbering (include/uapi/linux/capability.h).
  const names = CAPABILITIES;
  return new Set(names.filter((_, i) => (mask & (1n << BigInt(i))) !== 0n));
}

/**
 * Turns a recorded client config into one that runs here (see the list at the top); returns
 * what was changed, for the test's diagnostics.
 */
function adapt(client: Spec, s: Spec, bundle: string, scratch: string): string[] {
  const changes: string[] = [];
  const cgroupsPath = s.linux!.cgroupsPath;
  for (const key of Object.keys(s) as (keyof Spec)[]) delete s[key];
  Object.assign(s, structuredClone(client));
  s.root = { ...s.root, path: path.join(bundle, 'rootfs') };
  s.linux = { ...s.linux, cgroupsPath };
  s.process!.args = ['sleep', '1000'];
  for (const [kind, hooks] of Object.entries(s.hooks ?? {})) {
    const kept = (hooks ?? []).filter((h) => !h.path.startsWith('/proc/') && fs.existsSync(h.path));
    if (kept.length !== (hooks ?? []).length)
      changes.push(`removed ${(hooks ?? []).length - kept.length} ${kind} hook(s)`);
    (s.hooks as Record<string, unknown>)[kind] = kept;
  }
  const hard = hardLimits();
  for (const r of s.process!.rlimits ?? []) {
    const max = hard.get(r.type) ?? Number.POSITIVE_INFINITY;
    if (r.hard > max) {
      changes.push(`lowered ${r.type} from ${r.soft}/${r.hard} to the hard limit ${max}`);
      r.hard = max;
      r.soft = Math.min(r.soft, max);
    }
  }
  const ownAdj = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8'));
  if (s.process!.oomScoreAdj !== undefined && s.process!.oomScoreAdj < ownAdj) {
    changes.push(`dropped oomScoreAdj ${s.process!.oomScoreAdj} (below ${ownAdj})`);
    delete s.process!.oomScoreAdj;
  }
  const caps = s.process!.capabilities;
  if (caps !== undefined) {
    const allowed = hostBoundingSet();
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
      const names = caps[set];
      if (names === undefined) continue;
      const dropped = names.filter((n) => !allowed.has(n));
      if (dropped.length > 0) changes.push(`dropped ${dropped.join(',')} from ${set}`);
      caps[set] = names.filter((n) => allowed.has(n));
    }
  }
  (s.mounts ?? []).forEach((m, i) => {
    const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (!bind || m.source === undefined || fs.existsSync(m.source)) return;
    const stand = path.join(scratch, `mount-${i}-${path.basename(m.source)}`);
    // /dev/shm (and other directory sources) are named like directories; the rest are files.
    if (m.destination === '/dev/shm' || m.source.endsWith('/shm')) fs.mkdirSync(stand);
    else fs.writeFileSync(stand, `stands in for ${m.source}\n`);
    changes.push(`bind source ${m.source} -> ${stand}`);
    m.source = stand;
  });
  return changes;
}

const NS_PROC: Record<string, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

/** A container from a recorded client config, adapted; its bundle holds a copy of the rootfs. */
function clientContainer(t: Teardownable, client: Spec): { c: TestContainer; changes: string[] } {
  let changes: string[] = [];
  const scratch = tempDir(t, 'tsrunc-client');
  const c = testContainer(t, (s, bundle) => (changes = adapt(client, s, bundle, scratch)), { copyRootfs: true });
  return { c, changes };
}

/** create → created → start → running (checks along the way); returns the init's pid. */
function createAndStart(t: Test, c: TestContainer): number {
  const logFile = path.join(c.bundle, 'log.json');
  const pidFile = path.join(c.bundle, 'init.pid');
  const shim = ['--log', logFile, '--log-format', 'json'];
  const created = c.tsrunc([...shim, 'create', '--bundle', c.bundle, '--pid-file', pidFile, c.id]);
  t.equal(created.status, 0, `create: ${created.stderr} ${JSON.stringify(lastLogEntry(logFile))}`);
  if (created.status !== 0) return 0;
  const state = JSON.parse(c.tsrunc(['state', c.id]).stdout) as {
    status: string;
    pid: number;
    id: string;
    bundle: string;
  };
  t.equal(state.status, 'created');
  t.equal(String(state.pid), fs.readFileSync(pidFile, 'utf8'), "the pid file holds the init's pid");
  const started = c.tsrunc([...shim, 'start', c.id]);
  t.equal(started.status, 0, `start: ${started.stderr}`);
  t.equal(c.status(), 'running');
  t.equal(fs.readFileSync(`/proc/${state.pid}/cmdline`, 'utf8'), 'sleep\x001000\x00', 'the init runs the process');
  const cgroups = fs.readFileSync(`/proc/${state.pid}/cgroup`, 'utf8').trim().split('\n');
  for (const line of cgroups) t.equal(line.split(':')[2], `${CGROUP_PARENT}/${c.id}`, `in its cgroup: ${line}`);
  return state.pid;
}

/** Namespaces: new ones differ from the host's, absent ones are the host's. */
function checkNamespaces(t: Test, spec: Spec, pid: number): void {
  const listed = new Set<string>((spec.linux?.namespaces ?? []).map((n) => n.type));
  for (const [type, proc] of Object.entries(NS_PROC)) {
    const file = `/proc/self/ns/${proc}`;
    if (!fs.existsSync(file)) continue;
    const host = fs.readlinkSync(file);
    const mine = fs.readlinkSync(`/proc/${pid}/ns/${proc}`);
    if (listed.has(type)) t.not(mine, host, `a ${type} namespace of its own`);
    else t.equal(mine, host, `the host's ${type} namespace`);
  }
}

async function killAndDelete(t: Test, c: TestContainer): Promise<void> {
  t.equal(c.tsrunc(['kill', c.id, '9']).status, 0);
  t.ok(await waitForStatus(c, 'stopped'), 'stopped after kill');
  const del = c.tsrunc(['delete', c.id]);
  t.equal(del.status, 0, del.stderr);
  t.equal(c.status(), 'missing');
  t.same(leftovers(c), [], 'nothing left');
}

const CONFIGS = ['containerd-default', 'containerd-privileged-limits', 'cri-sandbox', 'docker-limits', 'podman-limits'];

for (const name of CONFIGS) {
  t.test(`${name}: the whole lifecycle`, { skip }, async (t) => {
    const client = clientConfig(name);
    if (client === undefined) return;
    const { c, changes } = clientContainer(t, client);
    t.comment(`adjusted: ${changes.length > 0 ? changes.join('; ') : 'nothing'}`);
    const pid = createAndStart(t, c);
    if (pid === 0) return;
    checkNamespaces(t, c.spec, pid);
    if (name === 'containerd-privileged-limits')
      t.notOk(
        c.spec.process!.capabilities?.bounding?.includes('CAP_SYS_RESOURCE'),
        'no CAP_SYS_RESOURCE in the privileged sets',
      );
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    t.equal(
      statusField(status, 'Seccomp'),
      c.spec.linux?.seccomp !== undefined ? '2' : '0',
      "the client's seccomp profile is in force",
    );
    t.equal(statusField(status, 'NoNewPrivs'), c.spec.process!.noNewPrivileges === true ? '1' : '0', 'NoNewPrivs');
    if (c.spec.hostname)
      t.equal(
        execFileSync('nsenter', ['-t', String(pid), '-u', 'hostname'], { encoding: 'utf8' }).trim(),
        c.spec.hostname,
        'hostname',
      );
    await killAndDelete(t, c);
  });
}

t.test("cri-app-container: joins a live sandbox's namespaces, whole lifecycle", { skip }, async (t) => {
  const sandboxConfig = clientConfig('cri-sandbox');
  const appConfig = clientConfig('cri-app-container');
  if (sandboxConfig === undefined || appConfig === undefined) return;
  const sandbox = clientContainer(t, sandboxConfig).c;
  const sandboxPid = createAndStart(t, sandbox);
  if (sandboxPid === 0) return;
  const joined = structuredClone(appConfig);
  for (const ns of joined.linux?.namespaces ?? []) {
    if (ns.path !== undefined) ns.path = ns.path.replace(/^\/proc\/\d+\//, `/proc/${sandboxPid}/`);
  }
  const { c: app } = clientContainer(t, joined);
  const appPid = createAndStart(t, app);
  if (appPid > 0) {
    for (const ns of joined.linux?.namespaces ?? []) {
      const proc = NS_PROC[ns.type]!;
      const mine = fs.readlinkSync(`/proc/${appPid}/ns/${proc}`);
      if (ns.path !== undefined) t.equal(mine, fs.readlinkSync(ns.path), `joined the sandbox's ${ns.type} namespace`);
      else t.not(mine, fs.readlinkSync(`/proc/${sandboxPid}/ns/${proc}`), `a ${ns.type} namespace of its own`);
    }
    const nspid = statusField(fs.readFileSync(`/proc/${appPid}/status`, 'utf8'), 'NSpid')?.split(/\s+/);
    t.ok(
      nspid !== undefined && nspid.length === 2 && nspid[1] !== '1',
      `not pid 1 in the shared pid namespace (NSpid ${nspid?.join(' ')})`,
    );
    await killAndDelete(t, app);
  }
  t.equal(sandbox.status(), 'running', 'the sandbox outlives its app container');
  await killAndDelete(t, sandbox);
});
