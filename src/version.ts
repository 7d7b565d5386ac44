// Version strings printed by `tsrunc --version` and reported in `features`.
import { OCI_VERSION } from './state/status';

export const VERSION = '0.1.0';

export function versionText(napiVersion: number | undefined, libseccomp: string | undefined): string {
  return [
    `tsrunc version ${VERSION}`,
    `spec: ${OCI_VERSION}`,
    `node: ${process.version}`,
    `addon: ${napiVersion === undefined ? 'not built' : `node-api ${napiVersion}`}`,
    `libseccomp: ${libseccomp ?? 'unknown'}`,
    '',
  ].join('\n');
}
