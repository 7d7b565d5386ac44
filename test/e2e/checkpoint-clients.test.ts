// The clients' checkpoint and restore on tsrunc (issue 18), where CRIU runs (.ci/run's CRIU lane,
// scripts/v2-guest.sh --systemd --modules tun: in the plain guest, `podman run` stalled the
// guest's kernel under TCG — soft lockups in podman and conmon — not investigated further): podman container checkpoint/restore, with --export and
// --import (a new container from the tarball), and containerd's `ctr task checkpoint`, each
// through conmon or containerd-shim-runc-v2 calling bin/tsrunc. A counting loop writes to a
// bind-mounted host directory (an external mount for criu), so the test reads it from here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { busyboxRootfs } from '../helpers/container';
import { haveCommand, podmanSetup, startContainerd } from '../helpers/clients';
import { count, countsOnFrom, criuSkipReason, LOOP } from '../helpers/criu';
import { RUNC } from '../helpers/runc';
import { TSRUNC, pollUntil, runCommand, tempDir, waitFor } from '../helpers/tsrunc';

t.setTimeout(1_200_000);
const criuSkip = criuSkipReason();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** podman's checkpoint/restore/--export/--import on `runtime`; what each step gave. */
async function podmanCase(t: Test, runtime: string): Promise<Record<string, unknown>> {
  // Under systemd as PID 1 (the lane's guest), podman's default driver; else cgroupfs.
  const p = podmanSetup(t, undefined, fs.existsSync('/run/systemd/system') ? 'systemd' : 'cgroupfs');
  const tar = path.join(p.dir, 'rootfs.tar');
  runCommand('tar', ['-C', busyboxRootfs(t), '--numeric-owner', '-cf', tar, '.']);
  const image = `localhost/tsrunc-busybox:${process.pid}`;
  t.equal(p.podman(['import', '--change', 'CMD ["sh"]', tar, image]).status, 0, 'podman import');
  const data = tempDir(t, 'ckpt-podman-data');
  const counter = path.join(data, 'c');
  const name = `ckpt-${process.pid}`;
  const state = (n: string): string => p.podman(['inspect', '-f', '{{.State.Status}}', n]).stdout.trim();
  const run = p.podman([
    'run',
    '-d',
    '--runtime',
    runtime,
    ...p.runFlags,
    '-v',
    `${data}:/data`,
    '--name',
    name,
    image,
    'sh',
    '-c',
    `cd /data && ${LOOP}`,
  ]);
  t.equal(run.status, 0, `podman run -d: ${run.stderr}`);
  await waitFor(() => count(counter) >= 2, 'the container to count', 60_000, 50);

  const ckpt = p.podman(['container', 'checkpoint', name], { timeoutMs: 180_000 });
  t.equal(ckpt.status, 0, `podman container checkpoint: ${ckpt.stderr}`);
  const afterCheckpoint = state(name);
  t.equal(afterCheckpoint, 'exited', 'podman shows the checkpointed container exited');
  const frozen = count(counter);
  await sleep(1000);
  t.equal(count(counter), frozen, 'nothing counts while it is checkpointed');
  let since = Date.now();
  const restore = p.podman(['container', 'restore', name], { timeoutMs: 180_000 });
  t.equal(restore.status, 0, `podman container restore: ${restore.stderr}`);
  const afterRestore = state(name);
  t.equal(afterRestore, 'running', 'and running again after the restore');
  await countsOnFrom(t, counter, frozen, since);

  // Migration: the checkpoint exported to a tarball, the container removed, a new one imported.
  const archive = path.join(tempDir(t, 'ckpt-podman-export'), 'export.tar.gz');
  const exp = p.podman(['container', 'checkpoint', '--export', archive, name], { timeoutMs: 180_000 });
  t.equal(exp.status, 0, `podman container checkpoint --export: ${exp.stderr}`);
  t.ok(fs.existsSync(archive) && fs.statSync(archive).size > 0, 'the export was written');
  t.equal(p.podman(['rm', '-f', '-t', '0', name]).status, 0, 'the container is removed');
  const moved = count(counter);
  since = Date.now();
  const imported = `${name}-imported`;
  const imp = p.podman(['container', 'restore', '--import', archive, '--name', imported], { timeoutMs: 180_000 });
  t.equal(imp.status, 0, `podman container restore --import --name: ${imp.stderr}`);
  const afterImport = state(imported);
  t.equal(afterImport, 'running', 'the imported container runs');
  if (afterImport === 'running') await countsOnFrom(t, counter, moved, since);
  t.equal(p.podman(['rm', '-f', '-t', '0', imported]).status, 0);
  t.same(await p.stop(), [], 'podman left nothing behind');
  return {
    checkpoint: ckpt.status,
    afterCheckpoint,
    restore: restore.status,
    afterRestore,
    export: exp.status,
    import: imp.status,
    afterImport,
  };
}

t.test(
  'podman container checkpoint and restore, and --export / --import',
  { skip: criuSkip || (haveCommand('podman') ? false : 'podman is not installed') },
  async (t) => {
    const outcomes: Record<string, unknown>[] = [];
    for (const [label, runtime] of [['tsrunc', TSRUNC], ...(RUNC === undefined ? [] : [['runc', RUNC]])] as [
      string,
      string,
    ][])
      await t.test(label, async (t) => void outcomes.push(await podmanCase(t, runtime)));
    if (outcomes.length === 2) t.same(outcomes[0], outcomes[1], 'tsrunc and runc: the same outcomes');
  },
);

t.test(
  'ctr task checkpoint',
  { skip: criuSkip || (haveCommand('containerd') ? false : 'containerd is not installed') },
  async (t) => {
    const c = await startContainerd(t);
    const runcRoot = path.join(c.dir, 'runc-root');
    const data = tempDir(t, 'ckpt-ctr-data');
    const counter = path.join(data, 'c');
    const id = `ckpt-${process.pid}`;
    const r = c.ctr([
      'run',
      '-d',
      '--runc-binary',
      TSRUNC,
      '--runc-root',
      runcRoot,
      '--mount',
      `type=bind,src=${data},dst=/data,options=rbind:rw`,
      c.image,
      id,
      'sh',
      '-c',
      `cd /data && ${LOOP}`,
    ]);
    t.equal(r.status, 0, `ctr run -d: ${r.stderr}`);
    await waitFor(() => count(counter) >= 2, 'the container to count', 60_000, 50);
    const images = tempDir(t, 'ckpt-ctr-images');
    const work = tempDir(t, 'ckpt-ctr-work');
    // Left running: the images are written and the task counts on.
    const ckpt = c.ctr(['task', 'checkpoint', '--image-path', images, '--work-path', work, id], { timeoutMs: 180_000 });
    t.equal(ckpt.status, 0, `ctr task checkpoint: ${ckpt.stderr}`);
    t.ok(fs.existsSync(path.join(images, 'inventory.img')), 'criu wrote the images where ctr said');
    const at = count(counter);
    t.ok(await pollUntil(() => count(counter) > at, 30_000, 50), 'the task counts on');
    // --exit: the task stops after the checkpoint.
    const images2 = tempDir(t, 'ckpt-ctr-images2');
    const exit = c.ctr(['task', 'checkpoint', '--exit', '--image-path', images2, id], { timeoutMs: 180_000 });
    t.equal(exit.status, 0, `ctr task checkpoint --exit: ${exit.stderr}`);
    t.ok(fs.existsSync(path.join(images2, 'inventory.img')), 'the images are written');
    t.ok(
      await pollUntil(
        () =>
          !/RUNNING/.test(
            c
              .ctr(['task', 'ls'])
              .stdout.split('\n')
              .find((l) => l.startsWith(id)) ?? '',
          ),
        30_000,
      ),
      'the task is no longer running',
    );
    const frozen = count(counter);
    await sleep(1000);
    t.equal(count(counter), frozen, 'and nothing counts');
    c.ctr(['task', 'rm', '-f', id]);
    c.ctr(['container', 'rm', id]);
    t.same(await c.stop(), [], 'containerd left nothing behind');
  },
);
