// Issue 7: the commands the shims run on every container start do not load yargs (~25 ms a
// process); anything else (here --help) does. Checked in a child running the CLI's main from
// the sources, by looking for yargs among the loaded modules.
import t from 'tap';
import { childEnv, nodeTsArgs, privateRoot, runCommand, srcModule } from '../helpers/tsrunc';

function yargsLoadedAfter(argv: string[]): boolean {
  const code = [
    `const { main } = require(${JSON.stringify(srcModule('cli/main.ts'))});`,
    // (on exit: yargs' --help ends the process itself)
    `process.on('exit', () => {`,
    `  const loaded = Object.keys(require.cache).some((k) => k.includes('/node_modules/yargs/'));`,
    `  require('node:fs').writeSync(1, '\\nyargs-loaded=' + loaded);`,
    '});',
    `void main(${JSON.stringify(argv)});`,
  ].join('\n');
  const r = runCommand(process.execPath, nodeTsArgs(code), { env: childEnv() });
  return r.stdout.endsWith('\nyargs-loaded=true');
}

t.test('hot commands parse without yargs; --help loads it', async (t) => {
  const root = privateRoot(t);
  const log = `${root}/../debug.log`;
  const hot = [
    ['--root', root, 'state', 'nosuch'],
    ['--root', root, 'list'],
    ['--root', root, '--log-format', 'json', 'delete', '--force', 'nosuch'],
    ['features'],
    // --debug and --log stay on the fast path; so do ps(1)'s own arguments after the id.
    ['--root', root, '--debug', '--log', log, '--log-format', 'json', 'kill', 'nosuch', 'KILL'],
    ['--root', root, 'ps', 'nosuch', '-e', '-x'],
  ];
  for (const argv of hot) {
    t.equal(yargsLoadedAfter(argv), false, `${argv.join(' ')}: yargs not loaded`);
  }
  t.equal(yargsLoadedAfter(['state', '--help']), true, 'state --help: yargs loaded (the check can see it)');
});
