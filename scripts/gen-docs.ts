// Writes the man pages and shell completion generated from the command definitions
// (src/cli/reference.ts) into share/, laid out as under an install prefix:
// share/man/man8/tsrunc.8 and tsrunc-COMMAND.8, share/bash-completion/completions/tsrunc and
// share/zsh/site-functions/_tsrunc. Run by `npm run build` and `prepare` after
// scripts/build.mjs: node --import=tsx scripts/gen-docs.ts
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../src/cli/main';
import { bashCompletion, manCommand, manMain, reference, zshCompletion } from '../src/cli/reference';

const root = path.resolve(__dirname, '..');
const ref = reference(COMMANDS);
const files = new Map<string, string>([
  ['man/man8/tsrunc.8', manMain(ref)],
  ...ref.commands.map((c): [string, string] => [`man/man8/tsrunc-${c.name}.8`, manCommand(c)]),
  ['bash-completion/completions/tsrunc', bashCompletion(ref)],
  ['zsh/site-functions/_tsrunc', zshCompletion(ref)],
]);
fs.rmSync(path.join(root, 'share'), { recursive: true, force: true });
for (const [rel, text] of files) {
  const file = path.join(root, 'share', rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
