// linux.mountLabel as runc applies it (libcontainer/rootfs_linux.go, label.FormatMountLabel):
// which mounts get context=, which get their root labelled, and the option's text.
import t from 'tap';
import { formatMountLabel, mountLabelUse } from '../../src/plan/planner';

const LABEL = 'system_u:object_r:container_file_t:s0:c1,c2';

t.test('formatMountLabel: context= quoted (an MLS range may hold commas), after the data', async (t) => {
  t.equal(formatMountLabel('', LABEL), `context="${LABEL}"`);
  t.equal(formatMountLabel('mode=755,size=65536k', LABEL), `mode=755,size=65536k,context="${LABEL}"`);
  t.equal(formatMountLabel('mode=755', undefined), 'mode=755', 'no label: the data as it was');
  t.equal(formatMountLabel('mode=755', ''), 'mode=755', 'an empty label is none');
});

t.test(
  'mountLabelUse: context= for tmpfs, devpts and the rest; mqueue by its root; never proc, sysfs or a bind',
  async (t) => {
    t.equal(mountLabelUse('tmpfs', false), 'context');
    t.equal(mountLabelUse('devpts', false), 'context');
    t.equal(mountLabelUse('overlay', false), 'context', "runc's default case: any other filesystem");
    t.equal(mountLabelUse('mqueue', false), 'file', 'mqueue takes no context=: its root is labelled (setxattr)');
    t.equal(mountLabelUse('proc', false), 'none', 'SELinux cannot label proc');
    t.equal(mountLabelUse('sysfs', false), 'none', 'nor sysfs');
    t.equal(mountLabelUse('', true), 'none', "a bind: the kernel ignores a bind's data");
    t.equal(mountLabelUse('tmpfs', true), 'none');
  },
);
