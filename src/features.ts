// The runtime-spec features document: what this build of tsrunc actually implements.
// Each list comes from the module that implements it, so it changes with the code.
import { KNOWN_MOUNT_OPTIONS } from './plan/mount-options';
import { CAPABILITIES } from './spec/linux-names';
import { OCI_VERSION } from './spec/oci-version';
import type { Features } from './spec/types';
import { EXECUTOR_SUPPORT } from './plan/support';
import { MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES } from './plan/process-steps';
import { CGROUP_FEATURES } from './cgroups';
import { VERSION } from './version';
import { native } from './native/addon';
import { SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from './seccomp/profile';

function seccompVersion(): string | undefined {
  try {
    return native().seccompVersion();
  } catch {
    return undefined;
  }
}

export function features(): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...EXECUTOR_SUPPORT.hooks],
    mountOptions: EXECUTOR_SUPPORT.namespaces.length > 0 ? KNOWN_MOUNT_OPTIONS : [],
    linux: {
      namespaces: [...EXECUTOR_SUPPORT.namespaces],
      capabilities: EXECUTOR_SUPPORT.namespaces.length > 0 ? [...CAPABILITIES] : [],
      cgroup: { ...CGROUP_FEATURES },
      seccomp: EXECUTOR_SUPPORT.seccomp
        ? {
            enabled: true,
            actions: [...SECCOMP_ACTIONS],
            operators: [...SECCOMP_OPERATORS],
            archs: [...SECCOMP_ARCHS],
            knownFlags: Object.keys(SECCOMP_FLAGS),
            supportedFlags: Object.keys(SECCOMP_FLAGS),
          }
        : { enabled: false },
      // "Compiled in", which the runtime-spec says is unrelated to what this host supports (runc
      // reports true on hosts with neither): the process's AppArmor profile and SELinux label are
      // applied where the host has the LSM, and refused with the pointer where it does not.
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      memoryPolicy: {
        modes: Object.keys(MEMORY_POLICY_MODES).sort(),
        flags: Object.keys(MEMORY_POLICY_FLAGS).sort(),
      },
      // Idmapped bind mounts (mount uidMappings/gidMappings, idmap/ridmap), compiled in as runc
      // reports them; refused for rootless containers and joined user namespaces, and where the
      // source's filesystem cannot be idmapped (each with a clear error).
      mountExtensions: { idmap: { enabled: EXECUTOR_SUPPORT.namespaces.length > 0 } },
      // linux.netDevices (src/lifecycle/net-devices.ts), as runc 1.4 reports it
      netDevices: { enabled: true },
    },
    annotations: {
      'dev.tsrunc.version': VERSION,
      ...(seccompVersion() === undefined ? {} : { 'io.github.seccomp.libseccomp.version': seccompVersion() as string }),
    },
  };
}
