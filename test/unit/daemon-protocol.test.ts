// native/front/protocol.h is the source of the resident server's protocol numbers; the
// TypeScript side's copy (src/daemon/protocol.ts) must name the same ones, and no other.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import * as protocol from '../../src/daemon/protocol';
import { REPO_ROOT } from '../helpers/tsrunc';

const header = fs.readFileSync(path.join(REPO_ROOT, 'native', 'front', 'protocol.h'), 'utf8');

function defines(): Map<string, number | string> {
  const out = new Map<string, number | string>();
  for (const m of header.matchAll(/^#define (DAEMON_\w+) ("[^"]*"|0x[0-9a-f]+u?|[0-9]+)u?/gm)) {
    const v = m[2] as string;
    out.set(m[1] as string, v.startsWith('"') ? v.slice(1, -1) : Number.parseInt(v.replace(/u$/, '')));
  }
  return out;
}

t.test("every constant of protocol.h is protocol.ts's, with the same value", async (t) => {
  const h = defines();
  t.ok(h.size >= 20, `protocol.h defines ${h.size}`);
  const ts = Object.entries(protocol).filter(([k]) => k.startsWith('DAEMON_'));
  for (const [name, value] of h) t.equal((protocol as Record<string, unknown>)[name], value, name);
  t.same(ts.map(([k]) => k).sort(), [...h.keys()].sort(), 'and neither has one the other lacks');
});

t.test('a STATUS says how the worker ended', async (t) => {
  const exited = protocol.statusMessage(3, null);
  t.same([exited.readUInt32LE(0), exited.readUInt32LE(4), exited.readUInt32LE(8)], [0x54535354, 1, 3]);
  const killed = protocol.statusMessage(null, 9);
  t.same([killed.readUInt32LE(4), killed.readUInt32LE(8)], [2, 9]);
  t.equal(exited.length, protocol.DAEMON_STATUS_WORDS * 4);
});
