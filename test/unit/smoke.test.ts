import t from 'tap';
import { parseSignal } from '../../src/spec/linux-names';

t.test('signals parse like runc', async (t) => {
  t.equal(parseSignal('KILL'), 9);
  t.equal(parseSignal('SIGTERM'), 15);
  t.equal(parseSignal('9'), 9);
  t.equal(parseSignal('RTMIN+2'), 36);
  t.equal(parseSignal('BOGUS'), undefined);
  t.equal(parseSignal('0'), 0, 'signal 0: only checks that the init exists, as in runc');
});
