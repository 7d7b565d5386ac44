// The short soak inside `npm test`: 100 lifecycles (create → start → exec → kill → delete;
// 50 one after another, 50 twenty at a time; tty and not, user namespace and not), then 0
// leaks of every kind and the runtime's fds and memory flat. `npm run soak` is the long form.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { VARIANTS, flatness, formatReport, leakCounts, runSoak, variantName } from '../soak/engine';
import { rootSkipReason } from '../helpers/container';

const N = 100;
const python = spawnSync('python3', ['-c', 'import socket; assert hasattr(socket, "recv_fds")']);
const skip =
  rootSkipReason() || (python.status === 0 ? false : 'needs python3 >= 3.9 (socket.recv_fds) to receive pty masters');

t.test(`soak: ${N} lifecycles leave nothing behind`, { skip }, async (t) => {
  const report = await runSoak({ n: N });
  t.comment(formatReport(report));
  t.equal(report.failureCount, 0, 'every lifecycle succeeded', { failures: report.failures });
  for (const v of VARIANTS) t.equal(report.byVariant[variantName(v)], N / VARIANTS.length, `${variantName(v)} ran`);
  t.same(
    leakCounts(report),
    { mounts: 0, cgroups: 0, state: 0, processes: 0, ptyMasters: 0, tempFiles: 0 },
    '0 leaks of any kind',
    { leaks: report.leaks },
  );
  t.equal(report.ptysReceived, N, 'every terminal (create and exec, half the lifecycles) reached the console socket');
  t.same(flatness(report), [], "the runtime's fds and memory are flat; inits and exec'd processes get stdio only");
  t.equal(Object.keys(report.runtime).sort().join(), 'create,delete,exec,start', 'every command was sampled');
});
