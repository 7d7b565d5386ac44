// linux.netDevices (runtime-spec 1.3): host interfaces moved into the container's network
// namespace, keyed by their host name, each with an optional name inside. The names are checked
// as the kernel takes them (net/core/dev.c, dev_valid_name): runc 1.4 checks the same rules but
// lets a 16-byte name through, which the kernel then refuses (IFNAMSIZ counts the NUL).
import { escapePointer } from './schema-errors';

/** The longest interface name the kernel takes, in bytes (IFNAMSIZ less its NUL). */
export const IFNAME_MAX = 15;

/** The pointer of the entry for host interface `hostName` (its `name`, with `field`). */
export function netDevicePointer(hostName: string, field?: 'name'): string {
  return `/linux/netDevices/${escapePointer(hostName)}${field === undefined ? '' : `/${field}`}`;
}

/** The name an entry's device gets inside the container: its own name unless `name` says otherwise. */
export function nameInside(hostName: string, device: { name?: string } | undefined): string {
  const name = device?.name;
  return name === undefined || name === '' ? hostName : name;
}

/** A name inside that the kernel completes (`net%d`: the first free netN). */
export function isNameTemplate(name: string): boolean {
  return name.includes('%');
}

// isspace() of the kernel's ctype table: ' ', \t \n \v \f \r, and byte 0xa0 (the kernel reads
// bytes as Latin-1, so a UTF-8 character ending in 0xa0 counts).
const SPACE_BYTES = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0xa0]);

/**
 * Why the kernel would not take `name` as an interface's name, or undefined. `template`: the name
 * inside the container may hold one %d (the kernel's template); a host interface's name never
 * holds a % (the kernel makes none).
 */
export function interfaceNameProblem(name: string, template: boolean): string | undefined {
  if (name === '') return 'it is empty';
  // (C would read the name only up to it: another interface's)
  if (name.includes('\0')) return 'it holds a NUL character';
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > IFNAME_MAX)
    return `it is ${bytes.length} bytes long, and an interface name has at most ${IFNAME_MAX} (IFNAMSIZ)`;
  if (name === '.' || name === '..') return `an interface cannot be named ${JSON.stringify(name)}`;
  if (bytes.some((b) => SPACE_BYTES.has(b)) || name.includes('/') || name.includes(':'))
    return 'an interface name has no whitespace, "/" or ":"';
  if (name.includes('%')) {
    if (!template) return 'a host interface name has no "%"';
    const at = name.indexOf('%');
    if (name[at + 1] !== 'd' || name.includes('%', at + 2))
      return 'a name with "%" is a template, which has exactly one "%d" (the kernel puts a number there)';
  }
  return undefined;
}
