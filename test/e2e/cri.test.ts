// Kubernetes' path on tsrunc without a kubelet: this test speaks CRI (runtime.v1, over gRPC) to
// a private containerd's CRI plugin, as a kubelet does, with a pod whose RuntimeClass handler is
// "tsrunc": kubelet → CRI → containerd → containerd-shim-runc-v2 → tsrunc. tsrunc is a configured
// runtime of the CRI plugin (runtime_type io.containerd.runc.v2, options.BinaryName), the
// config.toml snippet of docs/integration.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cgroupFile } from '../helpers/cgroup-tree';
import { cgroupTree, haveCommand, startContainerd, type Containerd } from '../helpers/clients';
import { rootSkipReason } from '../helpers/container';
import { waitForHandler } from '../helpers/host';
import {
  CriError,
  criClient,
  criPluginConfig,
  type ContainerConfig,
  type ContainerStatus,
  type CriClient,
  type PodSandboxConfig,
} from '../helpers/cri';
import { TSRUNC, pollUntil } from '../helpers/tsrunc';

const skip =
  rootSkipReason() ||
  (haveCommand('containerd') ? false : 'containerd is not installed (scripts/setup.sh installs it)');

/** The RuntimeClass handler, i.e. the name of the runtime in config.toml. */
const HANDLER = 'tsrunc';
/** The pod's cgroup parent (a kubelet would give its kubepods/... slice). */
const CGROUP = `tsrunc-e2e-cri-${process.pid}`;
/** The sandbox ("pause") image: busybox whose Cmd sleeps forever. */
const PAUSE = `docker.io/library/tsrunc-pause:${process.pid}`;
/** The namespaces a kubelet asks for in a hostNetwork pod: no CNI call is needed. */
const NAMESPACES = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } as const;

let c: Containerd;
let cri: CriClient;
let podId = '';
let pod: PodSandboxConfig;
/** tsrunc's --root as the shim gives it: options.Root/<containerd namespace>. */
let tsruncRoot = '';
let daemonStopped = false;

function containerConfig(name: string, command: string[]): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: c.image },
    command,
    envs: [{ key: 'POD_NAME', value: 'tsrunc-pod' }],
    log_path: `${name}.log`,
    linux: { resources: { cpu_shares: 2 }, security_context: { namespace_options: NAMESPACES } },
  };
}

async function runContainer(name: string, command: string[]): Promise<string> {
  const id = await cri.createContainer(podId, containerConfig(name, command), pod);
  await cri.startContainer(id);
  return id;
}

async function status(id: string): Promise<ContainerStatus> {
  return (await cri.containerStatus(id)).status;
}

/** The status once the container exited (or the last one seen after 60 s). */
async function exitedStatus(id: string): Promise<ContainerStatus> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const st = await status(id);
    if (st.state === 'CONTAINER_EXITED' || Date.now() > deadline) return st;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** tsrunc's state record of `id`, or undefined when tsrunc holds none. */
function tsruncState(id: string): { formatVersion?: number; initPid?: number } | undefined {
  const file = path.join(tsruncRoot, id, 'state.json');
  return fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { formatVersion?: number; initPid?: number })
    : undefined;
}

/** Whether process `pid` is in the cgroup the pod's cgroup_parent gives container `id` (memory v1, or v2). */
function inPodCgroup(pid: number | undefined, id: string): boolean {
  return new RegExp(`^\\d+:(?:memory)?:/${CGROUP}/${id}$`, 'm').test(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
}

function logOf(name: string): string {
  const file = path.join(c.dir, 'pod-logs', `${name}.log`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

t.before(async () => {
  if (skip !== false) return;
  c = await startContainerd(t, {
    cri: true,
    namespace: 'k8s.io',
    cgroupName: CGROUP,
    images: { [PAUSE]: ['sleep', 'infinity'] },
    extraConfig: (dir) => criPluginConfig(dir, { pause: PAUSE, handler: HANDLER }),
  });
  tsruncRoot = path.join(c.dir, 'tsrunc-root', 'k8s.io');
  fs.mkdirSync(path.join(c.dir, 'pod-logs'));
  cri = criClient(c.socket);
  // Runs before containerd's own teardown (tap runs teardowns last-in first-out): what a kubelet
  // would do to a pod left behind by a failed test, then the gRPC channel.
  t.teardown(async () => {
    if (!daemonStopped) {
      for (const p of await cri.listPodSandbox().catch(() => [])) {
        await cri.stopPodSandbox(p.id).catch(() => undefined);
        await cri.removePodSandbox(p.id).catch(() => undefined);
      }
    }
    cri.close();
  });
  await cri.version().catch((e: unknown) => {
    throw new Error(
      `the CRI plugin is not serving (${String(e)}): ${fs
        .readFileSync(path.join(c.dir, 'containerd.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('cri'))
        .join('\n')
        .slice(-3000)}`,
    );
  });
  pod = {
    metadata: { name: 'tsrunc-pod', uid: `tsrunc-e2e-${process.pid}`, namespace: 'default', attempt: 0 },
    log_directory: path.join(c.dir, 'pod-logs'),
    labels: { app: 'tsrunc-e2e' },
    linux: { cgroup_parent: `/${CGROUP}`, security_context: { namespace_options: NAMESPACES } },
  };
});

t.test('the CRI plugin is up and knows the images', { skip }, async (t) => {
  const v = await cri.version();
  t.equal(v.runtime_name, 'containerd');
  t.equal(v.runtime_api_version, 'v1');
  t.ok(await cri.imageStatus(c.image), 'the busybox image is visible to CRI');
  t.ok(await cri.imageStatus(PAUSE), 'the sandbox image is visible to CRI');
});

t.test('RunPodSandbox with runtime_handler "tsrunc": the pod sandbox runs on tsrunc', { skip }, async (t) => {
  podId = await cri.runPodSandbox(pod, HANDLER);
  t.match(podId, /^[0-9a-f]{64}$/);
  const { status: ps, info } = await cri.podSandboxStatus(podId, true);
  t.equal(ps.state, 'SANDBOX_READY');
  t.equal(ps.runtime_handler, HANDLER);
  const verbose = JSON.parse(info.info ?? '{}') as {
    pid?: number;
    runtimeHandler?: string;
    runtimeType?: string;
    runtimeOptions?: { binary_name?: string };
  };
  t.match(
    verbose,
    { runtimeHandler: HANDLER, runtimeType: 'io.containerd.runc.v2', runtimeOptions: { binary_name: TSRUNC } },
    'containerd chose the tsrunc runtime of config.toml',
  );
  const record = tsruncState(podId);
  t.match(
    record,
    { formatVersion: 1, initPid: verbose.pid },
    "tsrunc's state record (its format) of the sandbox, naming the pause process",
  );
  t.match(fs.readFileSync(`/proc/${verbose.pid}/cmdline`, 'utf8'), /^sleep\0infinity\0$/, 'the pause process runs');
  t.ok(inPodCgroup(verbose.pid, podId), "in the cgroup under the pod's cgroup_parent");
});

let appId = '';

t.test('CreateContainer, StartContainer, ContainerStatus, ExecSync', { skip }, async (t) => {
  // Prints on SIGTERM and carries on, so that only the SIGKILL after the grace period ends it.
  appId = await runContainer('app', [
    'sh',
    '-c',
    'trap "echo got-term" TERM; echo started as $POD_NAME; while true; do sleep 0.2; done',
  ]);
  const st = await status(appId);
  t.equal(st.state, 'CONTAINER_RUNNING');
  t.equal(st.metadata?.name, 'app');
  t.ok(st.started_at > 0, 'started_at is set');
  const record = tsruncState(appId);
  t.match(record, { formatVersion: 1 }, "tsrunc's state record of the container, while it runs");
  t.ok(inPodCgroup(record?.initPid, appId), "in the cgroup under the pod's cgroup_parent");

  const ex = await cri.execSync(appId, ['sh', '-c', 'echo out; echo err >&2; cat /proc/1/cmdline; exit 5'], 50);
  t.equal(ex.exit_code, 5, "the exec's exit code");
  t.equal(
    ex.stdout,
    'out\nsh\0-c\0trap "echo got-term" TERM; echo started as $POD_NAME; while true; do sleep 0.2; done\0',
    "its stdout (pid 1 is the container's init)",
  );
  t.equal(ex.stderr, 'err\n', 'its stderr');
  const ok = await cri.execSync(appId, ['true']);
  t.equal(ok.exit_code, 0);
  t.ok(
    await pollUntil(() => logOf('app').includes(' stdout F started as tsrunc-pod\n')),
    'the output reaches the CRI log file',
  );
});

t.test('UpdateContainerResources: memory limit and CPU quota reach the cgroup', { skip }, async (t) => {
  const mib64 = 64 * 1024 * 1024;
  await cri.updateContainerResources(appId, {
    memory_limit_in_bytes: mib64,
    cpu_period: 100_000,
    cpu_quota: 50_000,
    cpu_shares: 512,
  });
  t.equal(
    fs.readFileSync(cgroupFile(`${CGROUP}/${appId}`, 'memory', 'memory.limit_in_bytes', 'memory.max'), 'utf8').trim(),
    String(mib64),
  );
  const quota = cgroupFile(`${CGROUP}/${appId}`, 'cpu', 'cpu.cfs_quota_us', 'cpu.max');
  t.equal(fs.readFileSync(quota, 'utf8').trim(), quota.endsWith('cpu.max') ? '50000 100000' : '50000');
  t.equal(
    fs.readFileSync(cgroupFile(`${CGROUP}/${appId}`, 'cpu', 'cpu.shares', 'cpu.weight'), 'utf8').trim(),
    quota.endsWith('cpu.max') ? '20' : '512',
  );
  t.equal((await status(appId)).state, 'CONTAINER_RUNNING', 'still running');
});

t.test(
  'StopContainer with a timeout: SIGTERM, then SIGKILL; ContainerStatus shows the code; RemoveContainer',
  { skip },
  async (t) => {
    const politeId = await runContainer('polite', [
      'sh',
      '-c',
      'trap "echo got-term; exit 7" TERM; while true; do sleep 0.2; done',
    ]);
    t.equal((await status(politeId)).state, 'CONTAINER_RUNNING');
    // Until the shell has run its trap, pid 1 of the namespace ignores TERM (then: 137 after the grace).
    await waitForHandler(tsruncState(politeId)?.initPid ?? -1, 15);
    await cri.stopContainer(politeId, 30);
    const polite = await status(politeId);
    t.match(
      polite,
      { state: 'CONTAINER_EXITED', exit_code: 7 },
      'a process that handles SIGTERM exits with its own code',
    );
    t.ok(polite.finished_at > 0, 'finished_at is set');
    t.ok(await pollUntil(() => / stdout F got-term\n/.test(logOf('polite'))), 'its output reaches the CRI log');

    // (app's trap is in place: it printed "started" after it. The grace is the time its shell has
    // to wake from its sleep and print, on a loaded machine; the stop takes all of it.)
    await cri.stopContainer(appId, 10);
    const app = await status(appId);
    t.match(
      app,
      { state: 'CONTAINER_EXITED', exit_code: 137, reason: 'Error' },
      'a process that carries on after SIGTERM is killed (128+9)',
    );
    t.ok(await pollUntil(() => / stdout F got-term\n/.test(logOf('app'))), 'SIGTERM was delivered before the SIGKILL');
    // containerd deletes the task (tsrunc delete) as soon as it handled the exit; RemoveContainer then drops its record.
    t.equal(tsruncState(appId), undefined, "the exited container is gone from tsrunc's root");

    await cri.removeContainer(appId);
    await cri.removeContainer(politeId);
    await t.rejects(cri.containerStatus(appId), { code: 5 }, 'ContainerStatus: NotFound');
    t.same(await cri.listContainers(podId), [], 'the pod has no container');
  },
);

t.test('a container whose process exits on its own: ContainerStatus reports its code', { skip }, async (t) => {
  const id = await runContainer('exits', ['sh', '-c', 'echo bye; exit 3']);
  const st = await exitedStatus(id);
  t.match(st, { state: 'CONTAINER_EXITED', exit_code: 3, reason: 'Error' });
  // (finished_at may precede started_at: containerd takes the start time after the start call returned.)
  t.ok(st.finished_at > 0, 'finished_at is set');
  t.ok(await pollUntil(() => / stdout F bye\n/.test(logOf('exits'))), 'its output reaches the CRI log');
  const zero = await runContainer('exits0', ['true']);
  t.match(await exitedStatus(zero), { state: 'CONTAINER_EXITED', exit_code: 0, reason: 'Completed' });
  await cri.removeContainer(id);
  await cri.removeContainer(zero);
});

t.test("a failing start (missing executable): tsrunc's error reaches the CRI caller", { skip }, async (t) => {
  const id = await cri.createContainer(podId, containerConfig('missing', ['no-such-program']), pod);
  const err = await cri.startContainer(id).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, CriError);
  const message = err instanceof CriError ? err.details : '';
  t.match(
    message,
    /OCI runtime create failed: .*no-such-program.*executable file not found in \$PATH/,
    "the message from tsrunc --log reaches StartContainer's caller",
  );
  const st = await status(id);
  t.match(st, { state: 'CONTAINER_EXITED', reason: 'StartError' }, 'ContainerStatus reports the start error');
  t.match(st.message, /executable file not found in \$PATH/);
  t.equal(tsruncState(id), undefined, "nothing of it left in tsrunc's root");
  await cri.removeContainer(id);
});

t.test(
  "a container in the pod's pid namespace (pid POD) stops with no error in containerd's log",
  { skip },
  async (t) => {
    // Its pid namespace is the sandbox's, so when its init exits the shim runs `kill --all ID
    // KILL` on the stopped container (for processes the init left behind); runc exits 0 there,
    // and an error would be logged as "failed to kill init's children". The same pod on runc
    // (the default handler) where runc is installed.
    const shared = { ...NAMESPACES, pid: 'POD' } as const;
    const log = path.join(c.dir, 'containerd.log');
    for (const handler of haveCommand('runc') ? [HANDLER, 'runc'] : [HANDLER]) {
      const logStart = fs.statSync(log).size;
      const sharedPod: PodSandboxConfig = {
        ...pod,
        metadata: { ...pod.metadata, name: `pid-pod-${handler}`, uid: `${pod.metadata.uid}-pid-pod-${handler}` },
        linux: { ...pod.linux, security_context: { namespace_options: shared } },
      };
      const sandbox = await cri.runPodSandbox(sharedPod, handler);
      const config = containerConfig(`pid-pod-${handler}`, ['sh', '-c', 'echo in the pod pid namespace; exit 0']);
      config.linux = { ...config.linux, security_context: { namespace_options: shared } };
      const id = await cri.createContainer(sandbox, config, sharedPod);
      await cri.startContainer(id);
      t.match(
        await exitedStatus(id),
        { state: 'CONTAINER_EXITED', exit_code: 0 },
        `${handler}: the container exited 0`,
      );
      await cri.removeContainer(id);
      await cri.stopPodSandbox(sandbox);
      await cri.removePodSandbox(sandbox);
      // (The shim logs before it reports the exit; containerd copies its log as it comes: by now it is in.)
      const errors = fs
        .readFileSync(log)
        .subarray(logStart)
        .toString('utf8')
        .split('\n')
        .filter((l) => l.includes("failed to kill init's children") || (l.includes(id) && /level=error/.test(l)));
      t.same(errors, [], `${handler}: no error about the container in containerd's log`);
    }
  },
);

t.test('StopPodSandbox, RemovePodSandbox; nothing is left', { skip }, async (t) => {
  await cri.stopPodSandbox(podId);
  t.equal((await cri.podSandboxStatus(podId)).status.state, 'SANDBOX_NOTREADY');
  await cri.removePodSandbox(podId);
  t.same(await cri.listPodSandbox(), [], 'no pod');
  t.same(await cri.listContainers(), [], 'no container');
  t.same(fs.readdirSync(tsruncRoot), [], "tsrunc's root is empty");
  // tsrunc removed every container's cgroup; only the pod's parent (a kubelet's to remove) is left.
  t.same(
    cgroupTree(CGROUP).filter((d) => path.basename(d) !== CGROUP),
    [],
    "no container cgroup under the pod's cgroup_parent",
  );
  t.equal(c.ctr(['task', 'ls', '-q']).stdout, '', 'containerd has no task');
  daemonStopped = true;
  t.same(await c.stop(), [], 'no shim, process, mount or cgroup once containerd stopped (seen before the sweep)');
});
