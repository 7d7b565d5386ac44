// The cgroup v2 device filter: rules compiled to eBPF behave like the v1 allow/deny lists
// (later rules override earlier ones, unmatched requests are denied). The encoded program is
// run here by a small interpreter of the instructions it uses (test/helpers/device-filter-vm.ts);
// the kernel runs it in the v2 lane.
import t from 'tap';
import { containerDeviceRules } from '../../src/cgroups/resources';
import { deviceFilterProgram } from '../../src/cgroups/device-filter';
import { defaultSpec } from '../../src/spec/default-spec';
import { runDeviceFilter } from '../helpers/device-filter-vm';

t.test('the default container rules', async (t) => {
  const prog = deviceFilterProgram(containerDeviceRules(defaultSpec()));
  t.equal(runDeviceFilter(prog, 'c', 1, 3, 'rw'), 1, '/dev/null read-write');
  t.equal(runDeviceFilter(prog, 'c', 1, 9, 'r'), 1, '/dev/urandom');
  t.equal(runDeviceFilter(prog, 'c', 136, 4, 'rw'), 1, 'a pty');
  t.equal(runDeviceFilter(prog, 'c', 1, 1, 'r'), 0, '/dev/mem is denied');
  t.equal(runDeviceFilter(prog, 'b', 8, 0, 'r'), 0, 'a disk is denied');
  t.equal(runDeviceFilter(prog, 'b', 8, 0, 'm'), 1, 'mknod of anything is allowed (as runc)');
  t.equal(runDeviceFilter(prog, 'c', 1, 1, 'm'), 1);
});

t.test('later rules win, access must be a subset', async (t) => {
  const prog = deviceFilterProgram([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 10, minor: -1, access: 'r' },
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ]);
  t.equal(runDeviceFilter(prog, 'c', 10, 200, 'r'), 1);
  t.equal(runDeviceFilter(prog, 'c', 10, 200, 'rw'), 0, 'write is not in the rule');
  t.equal(runDeviceFilter(prog, 'c', 10, 229, 'r'), 0, 'a later deny overrides');
  t.equal(runDeviceFilter(prog, 'b', 10, 200, 'r'), 0, 'type must match');
});

t.test('an empty rule list denies everything; allow-all allows', async (t) => {
  t.equal(runDeviceFilter(deviceFilterProgram([]), 'c', 1, 3, 'r'), 0);
  t.equal(runDeviceFilter(deviceFilterProgram([{ allow: true, access: 'rwm' }]), 'b', 8, 1, 'rw'), 1);
  t.equal(deviceFilterProgram([]).length, 8 * 8, 'prologue (6), default deny (2)');
});
