// Version strings printed by `tsrunc --version` and reported in `features`.
import { OCI_VERSION } from './spec/oci-version';

export const VERSION = '0.1.0';

/** Set by scripts/build.mjs (esbuild's define); absent when the sources run unbundled. */
declare const __TSRUNC_COMMIT__: string | undefined;

/** The commit tsrunc was built from (`git describe`), "unknown" when it was not built from git. */
export const COMMIT = typeof __TSRUNC_COMMIT__ === 'string' && __TSRUNC_COMMIT__ !== '' ? __TSRUNC_COMMIT__ : 'unknown';

/** runc's shape: `runc version X`, `commit:`, `spec:`, `go:`, `libseccomp:` (here node for go). */
export function versionText(napiVersion: number | undefined, libseccomp: string | undefined): string {
  return [
    `tsrunc version ${VERSION}`,
    `commit: ${COMMIT}`,
    `spec: ${OCI_VERSION}`,
    `node: ${process.version}`,
    `libseccomp: ${napiVersion === undefined ? 'unknown (the addon is not built)' : (libseccomp ?? 'unknown')}`,
    '',
  ].join('\n');
}
