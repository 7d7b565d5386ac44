// tsrunc as a library: the same API the CLI uses.
export { Runtime, writeDefaultSpec, type RuntimeOptions } from './runtime';
export { Logger, type LogFormat, type LogLevel } from './log';
export { TsruncError, ConfigError, UsageError, type ErrorKind, type Problem } from './errors';
export {
  validateConfig,
  validateConfigText,
  loadBundleConfig,
  type ValidateOptions,
  type ValidationResult,
} from './spec/validate';
export { defaultSpec, rootlessSpec } from './spec/default-spec';
export { features } from './features';
export { StateStore, type ContainerRecord } from './state/store';
export type * from './spec/types';
