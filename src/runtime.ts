// The library API. The CLI (src/cli) is a thin user of this class; other programs can embed
// it the same way: `new Runtime({ root }).state(id)`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, systemError } from './errors';
import { Logger } from './log';
import { defaultSpec, rootlessSpec } from './spec/default-spec';
import type { State } from './spec/types';
import { CONFIG_FILE, loadBundleConfig, type ValidationResult } from './spec/validate';
import { computeStatus, ownerOf, stateDocument } from './state/status';
import { DEFAULT_ROOT, StateStore, type ContainerHandle } from './state/store';

export interface RuntimeOptions {
  /** State root (runc's --root). */
  root?: string;
  logger?: Logger;
  systemdCgroup?: boolean;
  rootless?: 'true' | 'false' | 'auto';
}

export class Runtime {
  readonly store: StateStore;
  readonly log: Logger;
  readonly systemdCgroup: boolean;

  constructor(options: RuntimeOptions = {}) {
    this.store = new StateStore(options.root ?? DEFAULT_ROOT);
    this.log = options.logger ?? new Logger();
    this.systemdCgroup = options.systemdCgroup ?? false;
  }

  /** The state document of one container, status computed live. */
  state(id: string): State {
    const handle = this.store.open(id, 'shared');
    try {
      return this.describe(handle);
    } finally {
      handle.release();
    }
  }

  /** State documents of every container under the root, sorted by id. */
  list(): State[] {
    const out: State[] = [];
    for (const id of this.store.ids()) {
      try {
        out.push(this.state(id));
      } catch (err) {
        // A container deleted while we listed is simply no longer there.
        if (!(err instanceof TsruncError && err.kind === 'not-found')) throw err;
      }
    }
    return out;
  }

  /** Reads and validates a bundle's config.json, checking the host (rootfs present...). */
  validateBundle(bundle: string): ValidationResult {
    return loadBundleConfig({ bundle: path.resolve(bundle), checkHost: true, systemdCgroup: this.systemdCgroup });
  }

  protected describe(handle: ContainerHandle): State {
    const record = handle.read();
    return stateDocument(record, computeStatus(record, handle.dir), ownerOf(handle.dir));
  }
}

/** Writes a default config.json into `bundle`; refuses to overwrite one. */
export function writeDefaultSpec(bundle: string, rootless: boolean): string {
  const file = path.join(bundle, CONFIG_FILE);
  const spec = rootless ? rootlessSpec(process.getuid?.() ?? 0, process.getgid?.() ?? 0) : defaultSpec();
  try {
    fs.writeFileSync(file, JSON.stringify(spec, null, '\t') + '\n', { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw new TsruncError('exists', `File ${file} exists. Remove it first`);
    throw systemError(`writing ${file}`, err);
  }
  return file;
}
