// The three callers that use the systemd cgroup driver, on tsrunc, where systemd is PID 1
// (scripts/v2-guest.sh --systemd runs this file, from .ci/run): containerd's CRI plugin with
// SystemdCgroup = true running a pod as a kubelet would, podman with --cgroup-manager systemd,
// and dockerd with native.cgroupdriver=systemd. Each passes --systemd-cgroup and a
// "slice:prefix:name" cgroupsPath; each container must be in its transient scope, and the
// scope gone once the client removed the container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { haveCommand, podmanSetup, startContainerd, startDockerd } from '../helpers/clients';
import { rootSkipReason } from '../helpers/container';
import { criClient, criPluginConfig, type PodSandboxConfig } from '../helpers/cri';
import { TSRUNC, pollUntil, runCommand } from '../helpers/tsrunc';

const systemdSkip =
  rootSkipReason() ||
  (fs.existsSync('/run/systemd/system')
    ? false
    : 'systemd is not PID 1 here (scripts/v2-guest.sh --systemd runs this)');

/** The unit whose cgroup holds `pid` (from /proc/PID/cgroup on cgroup v2). */
function cgroupOf(pid: number): string {
  return /^0::(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '';
}

function loadState(unit: string): string {
  return runCommand('systemctl', ['show', '-p', 'LoadState', '--value', unit]).stdout.trim();
}

function unitProp(unit: string, prop: string): string {
  return runCommand('systemctl', ['show', '-p', prop, '--value', unit]).stdout.trim();
}

t.test(
  'containerd CRI with SystemdCgroup = true: a pod and its container in scopes of the pod slice',
  { skip: systemdSkip || (haveCommand('containerd') ? false : 'containerd is not installed') },
  async (t) => {
    const PAUSE = `docker.io/library/tsrunc-pause:${process.pid}`;
    const slice = `tsrunc-e2e-pod${process.pid}.slice`;
    const c = await startContainerd(t, {
      cri: true,
      namespace: 'k8s.io',
      images: { [PAUSE]: ['sleep', 'infinity'] },
      extraConfig: (dir) => criPluginConfig(dir, { pause: PAUSE, handler: 'tsrunc', systemdCgroup: true }),
    });
    const cri = criClient(c.socket);
    t.teardown(() => cri.close());
    fs.mkdirSync(path.join(c.dir, 'pod-logs'));
    const ns = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } as const;
    const pod: PodSandboxConfig = {
      metadata: { name: 'sd-pod', uid: `sd-${process.pid}`, namespace: 'default', attempt: 0 },
      log_directory: path.join(c.dir, 'pod-logs'),
      linux: { cgroup_parent: slice, security_context: { namespace_options: ns } },
    };
    const podId = await cri.runPodSandbox(pod, 'tsrunc');
    t.teardown(async () => {
      await cri.stopPodSandbox(podId).catch(() => undefined);
      await cri.removePodSandbox(podId).catch(() => undefined);
    });
    const { info } = await cri.podSandboxStatus(podId, true);
    const podPid = (JSON.parse(info.info ?? '{}') as { pid: number }).pid;
    t.equal(
      cgroupOf(podPid),
      `/tsrunc.slice/tsrunc-e2e.slice/${slice}/cri-containerd-${podId}.scope`,
      'the sandbox is in cri-containerd-ID.scope of the pod slice',
    );
    const appId = await cri.createContainer(
      podId,
      {
        metadata: { name: 'app', attempt: 0 },
        image: { image: c.image },
        command: ['sleep', '1000'],
        log_path: 'app.log',
        linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024 }, security_context: { namespace_options: ns } },
      },
      pod,
    );
    await cri.startContainer(appId);
    const st = await cri.containerStatus(appId, true);
    t.equal(st.status.state, 'CONTAINER_RUNNING');
    const appPid = (JSON.parse(st.info.info ?? '{}') as { pid: number }).pid;
    const unit = `cri-containerd-${appId}.scope`;
    t.match(cgroupOf(appPid), new RegExp(`/${slice}/${unit}$`));
    t.equal(unitProp(unit, 'MemoryMax'), String(64 * 1024 * 1024), 'the limit is a property of the scope');
    const exec = await cri.execSync(appId, ['cat', '/sys/fs/cgroup/memory.max'], 30);
    t.equal(exec.exit_code, 0);
    await cri.updateContainerResources(appId, { memory_limit_in_bytes: 96 * 1024 * 1024 });
    t.equal(unitProp(unit, 'MemoryMax'), String(96 * 1024 * 1024), 'UpdateContainerResources → the scope');
    await cri.stopContainer(appId, 0);
    await cri.removeContainer(appId);
    t.ok(
      await pollUntil(() => loadState(unit) === 'not-found', 10_000),
      'the scope is gone once the container is removed',
    );
  },
);

t.test(
  'podman --cgroup-manager systemd',
  { skip: systemdSkip || (haveCommand('podman') ? false : 'podman is not installed') },
  async (t) => {
    const p = podmanSetup(t, undefined, 'systemd');
    const tar = path.join(p.dir, 'rootfs.tar');
    const { busyboxRootfs } = await import('../helpers/container');
    runCommand('tar', ['-C', busyboxRootfs(t), '--numeric-owner', '-cf', tar, '.']);
    const image = `localhost/tsrunc-busybox:${process.pid}`;
    t.equal(p.podman(['import', '--change', 'CMD ["sh"]', tar, image]).status, 0);
    const run = p.podman([
      'run',
      '-d',
      '--runtime',
      TSRUNC,
      ...p.runFlags,
      '--memory',
      '64m',
      '--name',
      `sd-${process.pid}`,
      image,
      'sleep',
      '1000',
    ]);
    t.equal(run.status, 0, `podman run: ${run.stderr}`);
    const id = run.stdout.trim();
    const pid = Number(p.podman(['inspect', '-f', '{{.State.Pid}}', id]).stdout.trim());
    const unit = `libpod-${id}.scope`;
    t.match(cgroupOf(pid), new RegExp(`/${p.cgroupParent}/${unit}$`), 'in libpod-ID.scope of the slice');
    t.equal(unitProp(unit, 'MemoryMax'), String(64 * 1024 * 1024));
    t.equal(p.podman(['exec', id, 'true']).status, 0, 'podman exec');
    t.equal(p.podman(['pause', id]).status, 0, 'podman pause');
    t.equal(p.podman(['unpause', id]).status, 0, 'podman unpause');
    t.equal(p.podman(['rm', '-f', '-t', '0', id]).status, 0);
    t.ok(await pollUntil(() => loadState(unit) === 'not-found', 10_000), 'the scope is gone after podman rm');
  },
);

t.test(
  'dockerd with native.cgroupdriver=systemd',
  { skip: systemdSkip || (haveCommand('dockerd') ? false : 'dockerd is not installed') },
  async (t) => {
    const slice = `tsrunc-e2e-docker${process.pid}.slice`;
    const d = await startDockerd(t, {
      cgroupParent: slice,
      flags: ['--add-runtime', `tsrunc=${TSRUNC}`, '--exec-opt', 'native.cgroupdriver=systemd'],
    });
    const run = d.docker([
      'run',
      '-d',
      '--runtime',
      'tsrunc',
      '--network',
      'none',
      // The guest's kernel has AppArmor on but no apparmor_parser: docker could not load its profile.
      '--security-opt',
      'apparmor=unconfined',
      '--memory',
      '64m',
      '--pids-limit',
      '50',
      d.image,
      'sleep',
      '1000',
    ]);
    t.equal(run.status, 0, `docker run: ${run.stderr}`);
    const id = run.stdout.trim();
    const pid = Number(d.docker(['inspect', '-f', '{{.State.Pid}}', id]).stdout.trim());
    const unit = `docker-${id}.scope`;
    t.match(cgroupOf(pid), new RegExp(`/${slice}/${unit}$`), 'in docker-ID.scope of the slice');
    t.equal(unitProp(unit, 'MemoryMax'), String(64 * 1024 * 1024));
    t.equal(unitProp(unit, 'TasksMax'), '50');
    const update = d.docker(['update', '--memory', '96m', '--memory-swap', '-1', id]);
    t.equal(update.status, 0, `docker update: ${update.stderr}`);
    t.equal(unitProp(unit, 'MemoryMax'), String(96 * 1024 * 1024));
    const exec = d.docker(['exec', id, 'cat', '/proc/self/cgroup']);
    t.equal(exec.status, 0, `docker exec: ${exec.stderr}`);
    t.equal(d.docker(['rm', '-f', id]).status, 0);
    t.ok(await pollUntil(() => loadState(unit) === 'not-found', 10_000), 'the scope is gone after docker rm');
  },
);
