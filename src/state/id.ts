import { UsageError } from '../errors';

// runc's rule: word characters plus + , - . — and never "." or ".." (which would name a
// directory outside the state root).
const ID_PATTERN = /^[\w+,.-]+$/;

export function checkContainerId(id: string | undefined): string {
  if (id === undefined || id === '') throw new UsageError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new UsageError('invalid container ID format');
  return id;
}
