// `npm test`: runs the tap suite and ends with one plain summary line
// ("N passed, N failed, N skipped") that any CI can read.
import { spawn } from 'node:child_process';

const args = ['tap', '--reporter=tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code) => {
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?/.exec(tail);
  const total = Number(m?.[1] ?? 0);
  const pass = Number(m?.[2] ?? 0);
  const skip = Number(m?.[4] ?? 0);
  const fail = m?.[3] !== undefined ? Number(m[3]) : total - pass - skip;
  console.log(`\n${pass} passed, ${fail} failed, ${skip} skipped`);
  process.exit(code ?? 1);
});
