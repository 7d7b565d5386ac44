// Measuring tools: hyperfine (read back through --export-json), /usr/bin/time -v for the peak
// RSS, and the machine's description.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, runSync } from './host.mjs';

/** One argument list as hyperfine -N splits a command line (POSIX shell words). */
export function shellJoin(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export { median };

/**
 * hyperfine -N of one command (an argv) `runs` times after `warmup` runs; `wrap` puts hyperfine
 * in the runtime's environment. Returns {median, mean, stddev, min, max, runs} in ms, or {error}.
 */
export async function hyperfine(ws, label, argv, { runs, warmup, wrap = (a) => a }) {
  const json = path.join(ws, `hyperfine-${label.replace(/[^\w.-]+/g, '_')}.json`);
  const full = wrap([
    'hyperfine',
    '-N',
    '--style',
    'none',
    '--runs',
    String(runs),
    '--warmup',
    String(warmup),
    '--export-json',
    json,
    '--command-name',
    label,
    shellJoin(argv),
  ]);
  const r = await run(full[0], full.slice(1));
  if (r.status !== 0 || !fs.existsSync(json))
    return {
      error: (
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => !/^\s*$/.test(l))
          .slice(-3)
          .join(' ') || `hyperfine exited ${r.status}`
      ).slice(0, 300),
    };
  const res = JSON.parse(fs.readFileSync(json, 'utf8')).results[0];
  const ms = (s) => s * 1000;
  return {
    median: ms(res.median),
    mean: ms(res.mean),
    stddev: ms(res.stddev ?? 0),
    min: ms(res.min),
    max: ms(res.max),
    runs: res.times.length,
    user: ms(res.user),
    system: ms(res.system),
    times: res.times.map((t) => Math.round(t * 1e5) / 100),
  };
}

/** One figure from several hyperfine results of the same command (rounds interleaved with others). */
export function mergeRuns(stats) {
  const failed = stats.find((s) => s.error !== undefined);
  if (failed !== undefined) return failed;
  const times = stats.flatMap((s) => s.times);
  const runs = times.length;
  const mean = times.reduce((a, b) => a + b, 0) / runs;
  const weighted = (k) => stats.reduce((a, s) => a + s[k] * s.runs, 0) / runs;
  return {
    median: median(times),
    mean,
    stddev: Math.sqrt(times.reduce((a, t) => a + (t - mean) ** 2, 0) / runs),
    min: Math.min(...times),
    max: Math.max(...times),
    runs,
    user: weighted('user'),
    system: weighted('system'),
    times,
  };
}

/** Peak RSS (MB) of one command, from /usr/bin/time -v run in the runtime's environment. */
export function peakRss(argv, wrap = (a) => a) {
  const full = wrap(['/usr/bin/time', '-v', ...argv]);
  const r = runSync(full[0], full.slice(1));
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const exit = /Exit status: (\d+)/.exec(r.stderr);
  if (m === null) return { error: r.stderr.trim().slice(-300) };
  return { mb: Number(m[1]) / 1024, exit: exit === null ? r.status : Number(exit[1]), stderr: r.stderr };
}

export function loadavg() {
  return os.loadavg().map((x) => Number(x.toFixed(2)));
}

function firstLine(cmd, args) {
  const r = runSync(cmd, args);
  return (r.stdout || r.stderr).split('\n')[0].trim();
}

export function machine(runtimes) {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const flags = /^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? '';
  return {
    date: new Date().toISOString(),
    cpu: model.replace(/\s+/g, ' '),
    cores: os.cpus().length,
    hypervisor: flags.split(' ').includes('hypervisor'),
    memoryGB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    kernel: os.release(),
    distro:
      /^PRETTY_NAME="?([^"\n]+)"?/m.exec(
        fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '',
      )?.[1] ?? 'unknown',
    node: process.version,
    versions: Object.fromEntries([
      ...runtimes.map((rt) => [rt.name, firstLine(rt.bin, ['--version'])]),
      ['containerd', firstLine('containerd', ['--version'])],
      ['hyperfine', firstLine('hyperfine', ['--version'])],
    ]),
  };
}
