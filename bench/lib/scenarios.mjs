// The benchmarks. Each runs the three runtimes on the same bundles in the same run and returns
// rows {id, label, unit, better, values: {runtime: stats | {error}}, target?, note?}.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CGROUP_NAME, run } from './host.mjs';
import { hyperfine, median, mergeRuns, peakRss, shellJoin } from './measure.mjs';
import { deleteAll, makeBundle, startContainerd } from './setup.mjs';

const CONCURRENT = path.join(path.dirname(new URL(import.meta.url).pathname), 'concurrent.mjs');

function progress(text) {
  process.stderr.write(`bench: ${text}\n`);
}

function describe(stat) {
  return stat.error !== undefined ? `error: ${stat.error}` : `median ${stat.median.toFixed(1)}`;
}

/** (a) `run` of /bin/true in the foreground: create, start, wait, delete in one command. */
export async function runTrue(ctx) {
  const values = {};
  for (const rt of ctx.runtimes) {
    const bundle = makeBundle(ctx.ws, ctx.spec, ctx.rootfs, rt, 'bench-run');
    values[rt.name] = await hyperfine(
      ctx.ws,
      `${rt.name} run`,
      [rt.bin, '--root', rt.root, 'run', '--bundle', bundle, 'bench-run'],
      { runs: ctx.cfg.runs, warmup: ctx.cfg.warmup, wrap: rt.wrap },
    );
    deleteAll(rt);
    progress(`run /bin/true: ${rt.name} ${describe(values[rt.name])} ms`);
  }
  return [{ id: 'run', label: '`run` of /bin/true', unit: 'ms', better: 'lower', values, target: { ratio: 1.0 } }];
}

/** (b) create + start + delete of a container running /bin/true, as a shim calls them. */
export async function createStartDelete(ctx) {
  const values = {};
  for (const rt of ctx.runtimes) {
    const bundle = makeBundle(ctx.ws, ctx.spec, ctx.rootfs, rt, 'bench-cycle');
    const r = (args) => shellJoin([rt.bin, '--root', rt.root, ...args]);
    const script = `${r(['create', '--bundle', bundle, 'bench-cycle'])} && ${r(['start', 'bench-cycle'])} && ${r(['delete', '--force', 'bench-cycle'])}`;
    values[rt.name] = await hyperfine(ctx.ws, `${rt.name} create+start+delete`, ['sh', '-c', script], {
      runs: ctx.cfg.runs,
      warmup: ctx.cfg.warmup,
      wrap: rt.wrap,
    });
    deleteAll(rt);
    progress(`create+start+delete: ${rt.name} ${describe(values[rt.name])} ms`);
  }
  return [
    {
      id: 'cycle',
      label: '`create` + `start` + `delete --force` (/bin/true)',
      unit: 'ms',
      better: 'lower',
      values,
      target: { ratio: 1.3 },
      note: 'one `sh -c` running the three commands (the same sh for every runtime)',
    },
  ];
}

/**
 * (b2) `exec` of /bin/true into a running container (a `sleep`): joining its cgroups and
 * namespaces. tsrunc's joining process is tsrunc-init exec'd from a sealed memfd, never a copy
 * of node: this figure shows what that exec costs beside runc's and crun's.
 */
export async function execTrue(ctx) {
  const values = {};
  const sleeper = structuredClone(ctx.spec);
  sleeper.process.args = ['/bin/sleep', '100000'];
  for (const rt of ctx.runtimes) {
    const bundle = makeBundle(ctx.ws, sleeper, ctx.rootfs, rt, 'bench-exec');
    const r = rt.exec(['run', '--detach', '--bundle', bundle, 'bench-exec']);
    if (r.status !== 0) values[rt.name] = { error: `run -d: ${r.stderr.trim().slice(0, 300)}` };
    else
      values[rt.name] = await hyperfine(
        ctx.ws,
        `${rt.name} exec`,
        [rt.bin, '--root', rt.root, 'exec', 'bench-exec', '/bin/true'],
        { runs: ctx.cfg.runs, warmup: ctx.cfg.warmup, wrap: rt.wrap },
      );
    deleteAll(rt);
    progress(`exec /bin/true: ${rt.name} ${describe(values[rt.name])} ms`);
  }
  return [{ id: 'exec', label: '`exec` of /bin/true into a running container', unit: 'ms', better: 'lower', values }];
}

/** (c) `state` of one container and `list`, with N created (not started) containers under the root. */
export async function stateAndList(ctx) {
  const n = ctx.cfg.containers;
  const state = {};
  const list = {};
  for (const rt of ctx.runtimes) {
    let failed;
    for (let i = 0; i < n && failed === undefined; i++) {
      const id = `bench-n${i}`;
      const r = rt.exec(['create', '--bundle', makeBundle(ctx.ws, ctx.spec, ctx.rootfs, rt, id), id]);
      if (r.status !== 0) failed = `create ${id}: ${r.stderr.trim().slice(0, 300)}`;
    }
    if (failed !== undefined) {
      state[rt.name] = { error: failed };
      list[rt.name] = { error: failed };
    } else {
      const opts = { runs: ctx.cfg.runs, warmup: ctx.cfg.warmup, wrap: rt.wrap };
      state[rt.name] = await hyperfine(
        ctx.ws,
        `${rt.name} state`,
        [rt.bin, '--root', rt.root, 'state', 'bench-n0'],
        opts,
      );
      list[rt.name] = await hyperfine(ctx.ws, `${rt.name} list`, [rt.bin, '--root', rt.root, 'list'], opts);
    }
    deleteAll(rt);
    progress(`state/list with ${n} containers: ${rt.name} ${describe(state[rt.name])} / ${describe(list[rt.name])} ms`);
  }
  return [
    {
      id: 'state',
      label: `\`state\` with ${n} containers present`,
      unit: 'ms',
      better: 'lower',
      values: state,
      target: { ratio: 1.5 },
    },
    { id: 'list', label: `\`list\` with ${n} containers present`, unit: 'ms', better: 'lower', values: list },
  ];
}

/** (d) `ctr run --rm` of /bin/true through a private containerd whose shim runs each runtime. */
export async function ctrRun(ctx) {
  const values = {};
  for (const rt of ctx.runtimes) {
    let c;
    try {
      c = startContainerd(ctx.ws, rt, ctx.archive, ctx.image);
    } catch (err) {
      values[rt.name] = { error: err instanceof Error ? err.message.slice(0, 300) : String(err) };
      continue;
    }
    const runtimeRoot = path.join(ctx.ws, 'ctr-roots', rt.name);
    fs.mkdirSync(runtimeRoot, { recursive: true });
    const argv = [
      'ctr',
      ...c.ctrArgs,
      'run',
      '--rm',
      '--runc-binary',
      rt.bin,
      '--runc-root',
      runtimeRoot,
      ctx.image,
      'bench-ctr',
      '/bin/true',
    ];
    values[rt.name] = await hyperfine(ctx.ws, `${rt.name} ctr run --rm`, argv, { runs: ctx.cfg.ctrRuns, warmup: 1 });
    // hyperfine's CPU time here is ctr's alone: the shim and the runtime run under containerd.
    delete values[rt.name].user;
    delete values[rt.name].system;
    c.stop();
    progress(`ctr run --rm: ${rt.name} ${describe(values[rt.name])} ms`);
  }
  return [
    {
      id: 'ctr',
      label: '`ctr run --rm` of /bin/true (containerd 1.6, runc shim v2)',
      unit: 'ms',
      better: 'lower',
      values,
      target: { ratio: 1.1 },
      note: `a private containerd per runtime (own config, root, state, socket; namespace ${CGROUP_NAME}); ctr --runc-binary names the runtime`,
    },
  ];
}

/** (e) N `create`s started at once; throughput in containers per second (median of rounds). */
export async function concurrentCreate(ctx) {
  const n = ctx.cfg.concurrent;
  const values = {};
  for (const rt of ctx.runtimes) {
    const containers = [];
    for (let i = 0; i < n; i++)
      containers.push([`bench-c${i}`, makeBundle(ctx.ws, ctx.spec, ctx.rootfs, rt, `bench-c${i}`)]);
    const errDir = path.join(ctx.ws, 'concurrent-stderr', rt.name);
    fs.mkdirSync(errDir, { recursive: true });
    const rates = [];
    let error;
    for (let round = 0; round < ctx.cfg.rounds && error === undefined; round++) {
      const argv = rt.wrap([
        process.execPath,
        CONCURRENT,
        JSON.stringify({ bin: rt.bin, root: rt.root, errDir, containers }),
      ]);
      const r = await run(argv[0], argv.slice(1));
      let out;
      try {
        out = JSON.parse(r.stdout);
      } catch {
        error = `concurrent.mjs: ${r.stderr.trim().slice(0, 300)}`;
        break;
      }
      if (out.failed.length > 0)
        error = `${out.failed.length} of ${n} creates failed, e.g. ${out.failed[0][0]}: ${String(out.failed[0][2]).slice(0, 200)}`;
      else rates.push(n / (out.ms / 1000));
      deleteAll(rt);
    }
    values[rt.name] =
      error !== undefined
        ? { error }
        : { median: median(rates), min: Math.min(...rates), max: Math.max(...rates), runs: rates.length };
    progress(`${n} concurrent creates: ${rt.name} ${error ?? `${values[rt.name].median.toFixed(1)} containers/s`}`);
  }
  return [
    {
      id: 'concurrent',
      label: `${n} \`create\`s at once (throughput)`,
      unit: 'containers/s',
      better: 'higher',
      values,
    },
  ];
}

/** (f) Peak RSS of each command (/usr/bin/time -v), median of samples. */
export async function peakMemory(ctx) {
  const commands = ['run', 'create', 'state', 'list', 'start', 'delete'];
  const samples = Object.fromEntries(commands.map((c) => [c, {}]));
  const errors = {};
  for (const rt of ctx.runtimes) {
    const runBundle = makeBundle(ctx.ws, ctx.spec, ctx.rootfs, rt, 'bench-rss-run');
    const bundle = makeBundle(ctx.ws, ctx.spec, ctx.rootfs, rt, 'bench-rss');
    const argvOf = {
      run: ['run', '--bundle', runBundle, 'bench-rss-run'],
      create: ['create', '--bundle', bundle, 'bench-rss'],
      state: ['state', 'bench-rss'],
      list: ['list'],
      start: ['start', 'bench-rss'],
      delete: ['delete', '--force', 'bench-rss'],
    };
    for (const c of commands) samples[c][rt.name] = [];
    for (let i = 0; i < ctx.cfg.rssSamples; i++) {
      for (const c of commands) {
        const r = peakRss([rt.bin, '--root', rt.root, ...argvOf[c]], rt.wrap);
        if (r.error !== undefined || r.exit !== 0)
          errors[`${rt.name} ${c}`] ??= r.error ?? `exit ${r.exit}: ${r.stderr.split('\n')[0]}`;
        else samples[c][rt.name].push(r.mb);
      }
    }
    deleteAll(rt);
    progress(
      `peak RSS: ${rt.name} ${commands.map((c) => `${c} ${samples[c][rt.name].length > 0 ? median(samples[c][rt.name]).toFixed(1) : '-'}`).join(', ')} MB`,
    );
  }
  return commands.map((c) => ({
    id: `rss-${c}`,
    label: `peak RSS of \`${c}\``,
    unit: 'MB',
    better: 'lower',
    values: Object.fromEntries(
      ctx.runtimes.map((rt) => [
        rt.name,
        samples[c][rt.name].length > 0
          ? {
              median: median(samples[c][rt.name]),
              max: Math.max(...samples[c][rt.name]),
              runs: samples[c][rt.name].length,
            }
          : { error: errors[`${rt.name} ${c}`] ?? 'no sample' },
      ]),
    ),
    target: { max: 50 },
  }));
}

/**
 * Start-up: `list` of an empty root beside bare `node -e 0` (without NODE_EXTRA_CA_CERTS, as
 * bin/tsrunc runs node). The target is a difference of a few ms, so the four commands are measured
 * in interleaved rounds: a burst of other people's load then lands on all of them.
 */
export async function startup(ctx) {
  const rounds = ctx.cfg.quick ? 1 : 5;
  const runs = Math.max(2, Math.round(ctx.cfg.runs / rounds));
  const commands = [
    ['node', ['env', '-u', 'NODE_EXTRA_CA_CERTS', '-u', 'NODE_OPTIONS', process.execPath, '-e', '0'], (a) => a],
  ];
  for (const rt of ctx.runtimes) {
    const empty = path.join(ctx.ws, 'empty-roots', rt.name);
    fs.mkdirSync(empty, { recursive: true });
    commands.push([rt.name, [rt.bin, '--root', empty, 'list'], rt.wrap]);
  }
  const parts = Object.fromEntries(commands.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, argv, wrap] of commands) {
      parts[name].push(
        await hyperfine(ctx.ws, `${name} start-up ${round}`, argv, {
          runs,
          warmup: round === 0 ? ctx.cfg.warmup : 1,
          wrap,
        }),
      );
    }
  }
  const baseline = mergeRuns(parts.node);
  const values = Object.fromEntries(ctx.runtimes.map((rt) => [rt.name, mergeRuns(parts[rt.name])]));
  progress(
    `start-up: node -e 0 ${describe(baseline)}, ${ctx.runtimes.map((rt) => `${rt.name} ${describe(values[rt.name])}`).join(', ')} ms`,
  );
  return [
    {
      id: 'startup',
      label: '`list` of an empty root (start-up)',
      unit: 'ms',
      better: 'lower',
      values,
      baseline,
      target: { overNode: 5 },
      note: `${rounds} interleaved rounds of ${runs} runs`,
    },
  ];
}

export const SCENARIOS = {
  startup,
  run: runTrue,
  cycle: createStartDelete,
  exec: execTrue,
  state: stateAndList,
  ctr: ctrRun,
  concurrent: concurrentCreate,
  rss: peakMemory,
};
