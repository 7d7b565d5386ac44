// The time of a log entry, as runc's logrus writes it (Go's time.RFC3339): local time in whole
// seconds with the zone's offset, "Z" at offset zero — in the text and the json format alike.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { Logger, rfc3339Seconds } from '../../src/log';

/** Runs `fn` with TZ set to `zone` (node re-reads the zone when TZ is assigned). */
function inZone<T>(zone: string, fn: () => T): T {
  const before = process.env['TZ'];
  process.env['TZ'] = zone;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env['TZ'];
    else process.env['TZ'] = before;
  }
}

t.test('RFC 3339 in whole seconds with the local offset', async (t) => {
  const instant = new Date(Date.UTC(2026, 11, 4, 23, 0, 15, 886));
  t.equal(
    inZone('UTC', () => rfc3339Seconds(instant)),
    '2026-12-04T23:00:15Z',
    'UTC: Z, no fraction',
  );
  t.equal(
    inZone('Asia/Kolkata', () => rfc3339Seconds(instant)),
    '2026-12-05T04:30:15+05:30',
    'east of Greenwich: +05:30, the local date',
  );
  t.equal(
    inZone('America/St_Johns', () => rfc3339Seconds(instant)),
    '2026-12-04T19:30:15-03:30',
    'west: -03:30',
  );
});

t.test("entries carry it, in both formats (runc's: no milliseconds)", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-log-time-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const format of ['json', 'text'] as const) {
    const file = path.join(dir, `log.${format}`);
    const log = new Logger({ file, format });
    inZone('Asia/Kolkata', () => log.error('boom'));
    log.close();
    const line = fs.readFileSync(file, 'utf8');
    const time = format === 'json' ? (JSON.parse(line) as { time: string }).time : /time="([^"]+)"/.exec(line)?.[1];
    t.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30$/, `${format}: ${String(time)}`);
  }
});
