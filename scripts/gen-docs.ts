// Writes the man pages and shell completion generated from the command definitions
// (src/cli/reference.ts) into dist/: dist/man/man8/tsrunc.8 and tsrunc-COMMAND.8,
// dist/completion/bash/tsrunc and dist/completion/zsh/_tsrunc. Run by `npm run build` and
// `prepare` after scripts/build.mjs: node --import=tsx scripts/gen-docs.ts
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../src/cli/main';
import { bashCompletion, manCommand, manMain, reference, zshCompletion } from '../src/cli/reference';

const root = path.resolve(__dirname, '..');
const ref = reference(COMMANDS);
const files = new Map<string, string>([
  ['man/man8/tsrunc.8', manMain(ref)],
  ...ref.commands.map((c): [string, string] => [`man/man8/tsrunc-${c.name}.8`, manCommand(c)]),
  ['completion/bash/tsrunc', bashCompletion(ref)],
  ['completion/zsh/_tsrunc', zshCompletion(ref)],
]);
for (const dir of ['man', 'completion']) fs.rmSync(path.join(root, 'dist', dir), { recursive: true, force: true });
for (const [rel, text] of files) {
  const file = path.join(root, 'dist', rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
