// A worker of the resident server that serves again (src/daemon/reuse.ts) runs the next command
// in the same node: whatever a module keeps at its top level outlives the command. Every such
// binding in src/ is named here, either as forgotten by forgetCommandState (src/cli/main.ts,
// which must call the named function) or as the same for every command, with why. A new one
// fails this test until it is one or the other. The native side of the quiet time between two
// commands (daemonQuiesceSignals) is checked here too.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { REPO_ROOT, nodeTsArgs, srcModule } from '../helpers/tsrunc';

const SRC = path.join(REPO_ROOT, 'src');

/** file:name -> the function of forgetCommandState that forgets it, or why it is the same for every command. */
const KNOWN: Record<string, { forgetBy: string } | { constant: string }> = {
  'util/faults.ts:armed': { forgetBy: 'disarmFaults' },
  'cgroups/hierarchy.ts:detected': { forgetBy: 'forgetHierarchies' },
  'cli/caller-fds.ts:callerFds': { forgetBy: 'forgetCallerFds' },
  'lifecycle/session.ts:containerSpawner': { forgetBy: 'setContainerInitSpawner' },
  'util/sleep.ts:cell': { constant: 'the Int32Array Atomics.wait sleeps on; never written' },
  'native/addon.ts:binding': { constant: 'the loaded addon' },
  'lifecycle/host-facts.ts:capLastCap': { constant: "the kernel's CAP_LAST_CAP" },
  'lifecycle/criu.ts:codecs': { constant: "codecs of criu's rpc.proto (checkpoint and restore are not served)" },
};

/**
 * Top-level `let`/`var` bindings, and top-level `const` Maps, Sets and arrays (mutable in place)
 * unless named as constants (UPPER_CASE) and never changed in the file.
 */
function moduleState(file: string): string[] {
  const out: string[] = [];
  const text = fs.readFileSync(file, 'utf8');
  for (const line of text.split('\n')) {
    const v = /^(?:export )?(?:let|var) ([A-Za-z_$][\w$]*)/.exec(line);
    if (v !== null) {
      out.push(v[1] as string);
      continue;
    }
    const c =
      /^(?:export )?const ([A-Za-z_$][\w$]*)(?:: [^=]+)? = (?:new (?:Map|Set|WeakMap|Array)\b|\[\s*\]|\{\s*\})/.exec(
        line,
      );
    if (c === null) continue;
    const name = c[1] as string;
    const changed = new RegExp(`\\b${name}\\.(?:add|set|delete|clear|push|pop|shift|unshift|splice|length\\s*=)\\b`);
    if (/^[A-Z][A-Z0-9_]*$/.test(name) && !changed.test(text)) continue;
    out.push(name);
  }
  return out;
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

t.test('every module-level binding a command could change is forgotten after it, or constant', async (t) => {
  const found = new Set<string>();
  for (const file of walk(SRC)) {
    const rel = path.relative(SRC, file);
    // the server and its worker are not the command's code: they run around it
    if (rel.startsWith('daemon/')) continue;
    for (const name of moduleState(file)) found.add(`${rel}:${name}`);
  }
  const unknown = [...found].filter((k) => KNOWN[k] === undefined);
  t.same(unknown, [], 'no module-level state that is neither forgotten nor named constant here');
  const gone = Object.keys(KNOWN).filter((k) => !found.has(k));
  t.same(gone, [], 'every entry here still exists (remove those that do not)');
  const main = fs.readFileSync(path.join(SRC, 'cli', 'main.ts'), 'utf8');
  const body = main.slice(main.indexOf('export function forgetCommandState'));
  const forget = body.slice(0, body.indexOf('\n}\n'));
  for (const [k, v] of Object.entries(KNOWN))
    if ('forgetBy' in v)
      t.match(forget, new RegExp(`\\b${v.forgetBy}\\(`), `${k}: forgetCommandState calls ${v.forgetBy}`);
});

t.test('forgetCommandState forgets what a command cached', async (t) => {
  const code = `
    const h = require(${JSON.stringify(srcModule('cgroups/hierarchy.ts'))});
    const s = require(${JSON.stringify(srcModule('lifecycle/session.ts'))});
    const m = require(${JSON.stringify(srcModule('cli/main.ts'))});
    const first = h.detectHierarchies();
    const local = s.containerParent();
    s.setContainerInitSpawner({ spawn() {}, wait() {}, waitAny() {}, kill() {}, setSubreaper() {} });
    m.forgetCommandState();
    process.stdout.write(JSON.stringify({
      reread: h.detectHierarchies() !== first,
      spawner: s.containerParent() === local,
    }));
  `;
  const r = spawnSync(process.execPath, nodeTsArgs(code), { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { reread: true, spawner: true });
});

t.test('between two commands a forwarded signal is dropped, not acted on; then each is as it was', async (t) => {
  const code = `
    const fs = require('node:fs');
    const { native } = require(${JSON.stringify(srcModule('native/addon.ts'))});
    const n = native();
    const ign = () => /SigIgn:\\s+(\\w+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
    const cgt = () => /SigCgt:\\s+(\\w+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
    process.on('SIGUSR1', () => process.stdout.write('usr1 handled;'));
    // (a handler there before the first call, as node's own SIGTERM one is in a worker)
    const keep = () => undefined;
    process.on('SIGHUP', keep);
    const before = [ign(), cgt()];
    n.daemonQuiesceSignals(true);
    for (const s of ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM']) process.kill(process.pid, s);
    setTimeout(() => {
      process.stdout.write('survived;' + ign() + ';');
      n.daemonQuiesceSignals(false);
      process.stdout.write((ign() === before[0] && cgt() === before[1]) + ';');
      // A command that leaves SIGHUP at the default (as removing a listener does to node's own
      // SIGTERM handler); the next quiet time puts back what was there before the first.
      process.off('SIGHUP', keep);
      const changed = cgt() !== before[1];
      n.daemonQuiesceSignals(true);
      n.daemonQuiesceSignals(false);
      process.stdout.write(changed + ',' + (ign() === before[0] && cgt() === before[1]) + ';');
      process.kill(process.pid, 'SIGUSR1');
      setTimeout(() => {
        process.kill(process.pid, 'SIGTERM');
        setTimeout(() => process.stdout.write('not ended by SIGTERM'), 1000);
      }, 50);
    }, 50);
  `;
  // (without what the test runner preloads into the node processes a test starts: it listens for
  // most signals)
  const r = spawnSync('sh', ['-c', 'unset NODE_OPTIONS; exec "$0" "$@"', process.execPath, ...nodeTsArgs(code)], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] },
  });
  t.equal(r.signal, 'SIGTERM', `SIGTERM ends it again afterwards: ${r.stdout} ${r.stderr}`);
  const [survived, ign, restored, again, handled] = r.stdout.split(';');
  t.equal(survived, 'survived', 'SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR2, SIGALRM were dropped');
  // SIGHUP 1, SIGINT 2, SIGQUIT 3, SIGUSR1 10, SIGUSR2 12, SIGALRM 14, SIGTERM 15, SIGCONT 18, SIGWINCH 28
  const mask = BigInt(`0x${ign ?? '0'}`);
  for (const sig of [1, 2, 3, 10, 12, 14, 15, 18, 28])
    t.ok((mask >> BigInt(sig - 1)) & 1n, `signal ${sig} ignored between commands`);
  t.equal(restored, 'true', 'every disposition as before after');
  t.equal(again, 'true,true', "a command's leftover (SIGHUP's default for a handler) is undone: as before the first");
  t.equal(handled, 'usr1 handled', "node's own handler (a listener) is back");
});
