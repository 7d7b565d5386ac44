// The valid documents the config fuzzing starts from: `tsrunc spec` (and --rootless) and,
// when this machine has them, the config.json files real clients wrote (../shared/clients).
import { defaultSpec, rootlessSpec } from '../../src/spec/default-spec';
import { NO_CLIENTS, clientConfig, clientConfigNames } from '../helpers/tsrunc';
import type { Json } from './json-mutate';

export interface Base {
  name: string;
  doc: Json;
}

/** The bases, and why the client configs are missing (undefined when they are present). */
export function configBases(): { bases: Base[]; missing?: string } {
  const names = clientConfigNames();
  const bases: Base[] = [
    { name: 'tsrunc spec', doc: defaultSpec() as unknown as Json },
    { name: 'tsrunc spec --rootless', doc: rootlessSpec(1000, 1000) as unknown as Json },
    ...(names ?? []).map((name) => ({ name, doc: clientConfig(name) as unknown as Json })),
  ];
  return names === undefined ? { bases, missing: NO_CLIENTS } : { bases };
}
