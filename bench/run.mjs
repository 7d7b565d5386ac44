// npm run bench [-- --quick] [--only startup,run,cycle,state,ctr,concurrent,rss] [--out DIR]
//
// tsrunc beside runc and crun on the same bundles in one run: start-up, `run` of /bin/true,
// create+start+delete, `state`/`list` with many containers, `ctr run --rm` through a private
// containerd, concurrent creates, and peak RSS. Prints a markdown table (medians, ratios to
// runc, the targets of issue 7) and, for a full run, writes docs/bench-latest.{md,json,svg}.
// Runs as root; everything it makes (containers, cgroups, containerd, mounts, temp dirs) is
// removed at the end, on failure and on Ctrl-C.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CGROUP_NAME,
  cgroupTree,
  cleanup,
  have,
  installSignalHandlers,
  makeWorkspace,
  mountsUnder,
  onCleanup,
  processesWith,
  removeCgroupTree,
} from './lib/host.mjs';
import { loadavg, machine } from './lib/measure.mjs';
import { markdown, svg } from './lib/report.mjs';
import { SCENARIOS } from './lib/scenarios.mjs';
import { REPO, TSRUNC, baseSpec, makeImageArchive, makeRootfs, makeRuntimes } from './lib/setup.mjs';

const USAGE = `usage: npm run bench [-- options]
  --quick            few runs and containers (for development; writes nothing unless --out)
  --only LIST        comma-separated subset of: ${Object.keys(SCENARIOS).join(',')}
  --out DIR          where bench-latest.{md,json,svg} go (default: docs/ for a full run)
  --runs N           hyperfine runs per figure (default 30, quick 5)
  --containers N     containers present for state/list (default 100, quick 10)
  --concurrent N     creates started at once (default 50, quick 10)`;

function parseArgs(argv) {
  const opts = {
    quick: false,
    only: Object.keys(SCENARIOS),
    out: undefined,
    runs: undefined,
    containers: undefined,
    concurrent: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--only') opts.only = value().split(',').filter(Boolean);
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--runs') opts.runs = Number(value());
    else if (a === '--containers') opts.containers = Number(value());
    else if (a === '--concurrent') opts.concurrent = Number(value());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  for (const s of opts.only) if (!(s in SCENARIOS)) throw new Error(`unknown benchmark ${s}\n${USAGE}`);
  for (const k of ['runs', 'containers', 'concurrent'])
    if (opts[k] !== undefined && !(Number.isInteger(opts[k]) && opts[k] > 0))
      throw new Error(`--${k} must be a positive integer`);
  if (opts.out === undefined && !opts.quick) opts.out = path.join(REPO, 'docs');
  return opts;
}

function preflight(only) {
  const problems = [];
  if (process.getuid?.() !== 0) problems.push('run as root (containers, cgroups, mounts)');
  if (!fs.existsSync(TSRUNC)) problems.push(`${TSRUNC} is missing: build first (node scripts/build.mjs)`);
  const needed = ['hyperfine', 'runc', 'crun', 'unshare', 'nsenter', 'tar', 'sh'];
  if (only.includes('ctr')) needed.push('containerd', 'ctr', 'containerd-shim-runc-v2');
  for (const cmd of needed)
    if (!have(cmd))
      problems.push(`${cmd} is not installed (Debian: apt-get install hyperfine runc crun containerd util-linux)`);
  if (!fs.existsSync('/usr/bin/time')) problems.push('/usr/bin/time is not installed (Debian: apt-get install time)');
  if (problems.length > 0) throw new Error(`cannot run the benchmark:\n- ${problems.join('\n- ')}`);
}

/** What a clean end leaves: nothing. Reported, not fixed, so that a leak is seen. */
function leftovers(ws) {
  const left = [];
  for (const dir of cgroupTree(CGROUP_NAME)) left.push(`cgroup ${dir}`);
  for (const pid of processesWith(ws)) left.push(`process ${pid}`);
  for (const m of mountsUnder(ws)) left.push(`mount ${m}`);
  if (fs.existsSync(ws)) left.push(`directory ${ws}`);
  return left;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  preflight(opts.only);
  installSignalHandlers();
  const cfg = {
    quick: opts.quick,
    runs: opts.runs ?? (opts.quick ? 5 : 30),
    warmup: opts.quick ? 1 : 3,
    ctrRuns: opts.quick ? 3 : 15,
    containers: opts.containers ?? (opts.quick ? 10 : 100),
    concurrent: opts.concurrent ?? (opts.quick ? 10 : 50),
    rounds: opts.quick ? 1 : 3,
    rssSamples: opts.quick ? 2 : 5,
  };
  const ws = makeWorkspace();
  onCleanup('cgroups', () => {
    const left = removeCgroupTree(CGROUP_NAME);
    if (left.length > 0) throw new Error(`could not remove ${left.join(', ')}`);
  });
  const { runtimes, crunNote } = makeRuntimes(ws);
  const rootfs = makeRootfs(ws);
  const spec = baseSpec(ws);
  const image = `docker.io/library/tsrunc-bench:${process.pid}`;
  const archive = opts.only.includes('ctr') ? makeImageArchive(ws, rootfs, image) : undefined;
  const ctx = { ws, cfg, runtimes, rootfs, spec, archive, image };
  const result = { machine: machine(runtimes), cfg, crunNote, load: { start: loadavg() }, rows: [] };
  process.stderr.write(
    `bench: ${cfg.quick ? 'quick' : 'full'} run in ${ws}; load average ${result.load.start.join(' ')}\n`,
  );
  for (const name of Object.keys(SCENARIOS).filter((s) => opts.only.includes(s))) {
    const rows = await SCENARIOS[name](ctx);
    for (const row of rows) row.load = loadavg();
    result.rows.push(...rows);
  }
  result.load.end = loadavg();
  cleanup();
  const left = leftovers(ws);
  if (left.length > 0) process.stderr.write(`bench: left behind (please report): ${left.join('; ')}\n`);
  const md = markdown(result);
  process.stdout.write(`\n${md}\n`);
  if (opts.out !== undefined) {
    fs.mkdirSync(opts.out, { recursive: true });
    fs.writeFileSync(
      path.join(opts.out, 'bench-latest.md'),
      `# Latest benchmark (\`npm run bench\`)\n\nGenerated by bench/run.mjs; docs/performance.md explains the figures.\n\n![chart](bench-latest.svg)\n\n${md}`,
    );
    // (arrays of numbers on one line each)
    const json = JSON.stringify(result, null, 2).replace(
      /\[\n\s+(-?[\d.]+(?:,\n\s+-?[\d.]+)*)\n\s+\]/g,
      (_, nums) => `[${nums.replace(/,\n\s+/g, ', ')}]`,
    );
    fs.writeFileSync(path.join(opts.out, 'bench-latest.json'), `${json}\n`);
    fs.writeFileSync(path.join(opts.out, 'bench-latest.svg'), svg(result));
    process.stderr.write(
      `bench: wrote ${['md', 'json', 'svg'].map((e) => path.join(opts.out, `bench-latest.${e}`)).join(', ')}\n`,
    );
  }
  return left.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    cleanup();
    process.exit(1);
  },
);
