// Man pages and shell completion are generated from the command definitions (issue 20): every
// command and every flag yargs knows for it (read back from yargs itself, not from the
// generator's own reading of the builders) appears in its man page, in bash completion and in
// zsh completion; every page is clean roff and `man tsrunc-run` renders; bash and zsh (in a pty) complete `tsrunc cr<TAB>` to `create`.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli/main';
import { declaredOptions } from '../../src/cli/yargs-cli';
import { GLOBAL_SWITCHES, GLOBAL_VALUE_FLAGS } from '../../src/cli/fast-args';
import { bashCompletion, manCommand, manMain, reference, zshCompletion } from '../../src/cli/reference';
import { REPO_ROOT, tempDir } from '../helpers/tsrunc';

const ref = reference(COMMANDS);
const bash = bashCompletion(ref);
const zsh = zshCompletion(ref);
const mainPage = manMain(ref);
/** The text of roff: "-" is written "\-", fonts are switched with \fB, \fI, \fR. */
const unroff = (text: string): string => text.replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '');
const has = (text: string, word: string): boolean =>
  new RegExp(`(^|[^\\w-])${word.replace(/[-]/g, '\\-')}($|[^\\w-])`, 'm').test(text);

t.test('every command has a man page, a line in tsrunc(8), and a place in both completions', async (t) => {
  const names = COMMANDS.map((c) => c.command.split(' ')[0] as string);
  t.same(ref.commands.map((c) => c.name).sort(), [...names].sort());
  for (const name of names) {
    const doc = ref.commands.find((c) => c.name === name);
    t.ok(doc, name);
    if (doc === undefined) continue;
    t.match(unroff(manCommand(doc)), new RegExp(`^\\.TH TSRUNC-${name.toUpperCase()} 8`, 'm'), `tsrunc-${name}.8`);
    t.ok(has(unroff(mainPage), `tsrunc-${name}`), `tsrunc(8) names tsrunc-${name}`);
    t.ok(has(bash, `${name}\\)`) && has(bash, name), `bash: ${name}`);
    t.ok(has(zsh, `${name}\\)`) && zsh.includes(`'${name}:`), `zsh: ${name}`);
  }
});

t.test('every flag yargs declares for a command is in its man page and both completions', async (t) => {
  for (const cmd of COMMANDS) {
    const name = cmd.command.split(' ')[0] as string;
    const declared = declaredOptions(cmd);
    const doc = ref.commands.find((c) => c.name === name);
    if (doc === undefined) {
      t.fail(`no reference for ${name}`);
      continue;
    }
    const page = unroff(manCommand(doc));
    const positionals = cmd.command.split(' ').map((p) => p.replace(/[<>[\].]/g, ''));
    const flags = Object.keys(declared.key).filter((k) => !['help', 'version', '$0', ...positionals].includes(k));
    for (const flag of flags) {
      const spellings = [flag, ...(declared.alias[flag] ?? [])].map((f) => (f.length === 1 ? `-${f}` : `--${f}`));
      for (const s of spellings) {
        t.ok(has(page, s), `tsrunc-${name}.8: ${s}`);
        const zshBlock = zsh.slice(zsh.indexOf(`    ${name})\n`), zsh.indexOf(';;', zsh.indexOf(`    ${name})\n`)));
        t.ok(zshBlock.includes(`${s}`), `zsh ${name}: ${s}`);
        const bashBlock = bash.slice(bash.indexOf(`  ${name})\n`), bash.indexOf(';;\n', bash.indexOf(`  ${name})\n`)));
        t.ok(has(bashBlock, s), `bash ${name}: ${s}`);
      }
    }
  }
});

t.test('the global flags (yargs-cli.ts and the pre-scan) are in tsrunc(8) and both completions', async (t) => {
  const hidden = new Set(ref.globals.filter((f) => f.hidden).map((f) => `--${f.name}`));
  for (const flag of [...GLOBAL_VALUE_FLAGS, ...GLOBAL_SWITCHES]) {
    if (hidden.has(flag)) continue; // --criu: hidden from --help as well
    t.ok(has(unroff(mainPage), flag), `tsrunc.8: ${flag}`);
    t.ok(has(bash, flag), `bash: ${flag}`);
    t.ok(zsh.includes(`${flag}`), `zsh: ${flag}`);
  }
});

let bashFile: string | undefined;
const bashComplete = (t: Parameters<typeof tempDir>[0], words: string[]): string[] => {
  if (bashFile === undefined) {
    bashFile = path.join(tempDir(t, 'tsrunc-bash'), 'tsrunc');
    fs.writeFileSync(bashFile, bash);
  }
  const script = `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _tsrunc; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script, 'bash', bashFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
};

t.test('bash completion: tsrunc cr<TAB> gives create, and flags and values complete', async (t) => {
  t.same(bashComplete(t, ['tsrunc', 'cr']), ['create']);
  t.same(bashComplete(t, ['tsrunc', '--root', '/tmp/x', 'sta']).sort(), ['start', 'state']);
  t.same(bashComplete(t, ['tsrunc', 'run', '--det']), ['--detach']);
  t.same(bashComplete(t, ['tsrunc', '--log-format', 'j']), ['json']);
  t.same(bashComplete(t, ['tsrunc', 'list', '--format', '']).sort(), ['json', 'table']);
  t.same(bashComplete(t, ['tsrunc', 'help', 'upd']), ['update']);
});

/** What zsh's completion system, loading our _tsrunc, makes of `line` + TAB (in a pty). */
const ZSH_DRIVER = String.raw`
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; PS1='%% '; unsetopt beep"
zpty -wn z "$2"$'	'
all=
for i in {1..100}; do
  if zpty -r -t z chunk; then all+=$chunk; fi
  [[ $all == *"$3"* ]] && break
  sleep 0.1
done
zpty -d z
print -r -- "$all"
`;

t.test(
  'zsh completion: it parses, and tsrunc cr<TAB> gives create',
  { skip: spawnSync('zsh', ['-c', 'true']).error ? 'zsh is not installed' : false },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-zsh');
    fs.writeFileSync(path.join(dir, '_tsrunc'), zsh);
    fs.writeFileSync(path.join(dir, 'driver.zsh'), ZSH_DRIVER);
    const r = spawnSync('zsh', ['-n', path.join(dir, '_tsrunc')], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    for (const [line, expected] of [
      ['tsrunc cr', 'tsrunc create'],
      ['tsrunc run --det', 'tsrunc run --detach'],
    ] as const) {
      const c = spawnSync('zsh', ['-f', path.join(dir, 'driver.zsh'), dir, line, expected], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      t.ok(c.stdout.includes(expected), `${line}<TAB>: ${expected}`, { output: c.stdout, stderr: c.stderr });
    }
  },
);

t.test(
  'man tsrunc-run renders',
  { skip: spawnSync('man', ['--version']).error ? 'man is not installed' : false },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-man');
    fs.mkdirSync(path.join(dir, 'man8'));
    const run = ref.commands.find((c) => c.name === 'run');
    if (run === undefined) throw new Error('no run command');
    fs.writeFileSync(path.join(dir, 'man8', 'tsrunc-run.8'), manCommand(run));
    const r = spawnSync('man', ['--manpath', dir, 'tsrunc-run'], {
      encoding: 'utf8',
      env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100', LANG: 'C.UTF-8' },
    });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /TSRUNC-RUN\(8\)/);
    t.match(r.stdout, /--detach, -d/);
    t.match(r.stdout, /SEE ALSO\s+tsrunc\(8\)/);
    t.notMatch(r.stderr, /warning/i, 'no groff warnings');
  },
);

t.test(
  'every page is clean roff (groff -ww: no warnings)',
  { skip: spawnSync('groff', ['--version']).error ? 'groff is not installed' : false },
  async (t) => {
    const pages = [mainPage, ...ref.commands.map((c) => manCommand(c))];
    for (const page of pages) {
      const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
      t.equal(r.stderr, '', page.split('\n')[1]);
    }
  },
);

const share = path.join(REPO_ROOT, 'share');
const NOT_BUILT = fs.existsSync(path.join(share, 'man')) ? false : 'share/man is not built (npm run build)';
t.test(
  'the built pages and completion (npm run build) are what the definitions give',
  { skip: NOT_BUILT },
  async (t) => {
    t.equal(fs.readFileSync(path.join(share, 'man', 'man8', 'tsrunc.8'), 'utf8'), mainPage);
    t.equal(fs.readFileSync(path.join(share, 'bash-completion', 'completions', 'tsrunc'), 'utf8'), bash);
    t.equal(fs.readFileSync(path.join(share, 'zsh', 'site-functions', '_tsrunc'), 'utf8'), zsh);
  },
);
