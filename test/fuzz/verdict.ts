// What a fuzzed input may do to tsrunc, as checks that return what went wrong (undefined when
// nothing did): the library validates or throws a ConfigError whose pointers land in the
// document; a tsrunc process exits 0 or with a clean error (a message, no stack trace, no
// "internal error"), and leaves nothing under its --root.
import { ConfigError, type Problem } from '../../src/errors';
import { validateConfigText, type ValidateOptions } from '../../src/spec/validate';
import { rootEntries, type RunResult } from '../helpers/tsrunc';
import { locate, type Json } from './json-mutate';

export interface LibraryVerdict {
  valid: boolean;
  problems: Problem[];
  /** What is wrong with the outcome; undefined when it is acceptable. */
  wrong?: string;
}

function describe(err: unknown): string {
  if (err instanceof Error)
    return `${err.constructor.name}: ${err.message.slice(0, 500)}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `a non-Error value ${String(err).slice(0, 200)}`;
}

/** Every problem is located by a pointer into `doc` (or at a missing property of an object in it). */
export function problemsLand(doc: Json, problems: readonly Problem[], what = 'problem'): string | undefined {
  for (const p of problems) {
    if (typeof p.pointer !== 'string' || typeof p.message !== 'string' || p.message === '')
      return `${what} without a pointer or message: ${JSON.stringify(p)}`;
    const where = locate(doc, p.pointer);
    if (where !== 'exact' && where !== 'parent')
      return `${what} ${JSON.stringify(p.pointer)} (${p.message.slice(0, 200)}): ${where}`;
  }
  return undefined;
}

/** Problems of a parsed-or-not JSON text, checked against the text itself. */
export function checkProblems(text: string, problems: readonly Problem[]): string | undefined {
  if (problems.length === 0) return 'a ConfigError with no problems';
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    const [only] = problems;
    if (problems.length === 1 && only !== undefined && only.pointer === '' && only.message.startsWith('invalid JSON'))
      return undefined;
    return `text that is not JSON gave ${JSON.stringify(problems).slice(0, 300)}`;
  }
  return problemsLand(doc, problems);
}

/** Runs `validateConfigText` on `text` and judges the outcome. */
export function validateVerdict(text: string, opts: ValidateOptions): LibraryVerdict {
  try {
    const result = validateConfigText(text, opts);
    const wrong = problemsLand(JSON.parse(text) as Json, result.warnings, 'warning');
    return wrong === undefined ? { valid: true, problems: [] } : { valid: true, problems: [], wrong };
  } catch (err) {
    if (!(err instanceof ConfigError)) return { valid: false, problems: [], wrong: `threw ${describe(err)}` };
    const wrong = checkProblems(text, err.problems);
    return wrong === undefined
      ? { valid: false, problems: err.problems }
      : { valid: false, problems: err.problems, wrong };
  }
}

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/**
 * A tsrunc process ended cleanly: not by a signal or a timeout, with 0 or a non-zero status
 * and a message (on stderr or in the --log), never a stack trace or an internal error.
 * `passesStatus`: the status may be a container process's own (exec), without a message.
 */
export function cleanExit(r: RunResult, logText = '', opts: { passesStatus?: boolean } = {}): string | undefined {
  if (r.status === null) return `ended by ${r.signal ?? 'a timeout'}\nstderr: ${r.stderr.slice(0, 800)}`;
  const all = `${r.stderr}\n${logText}`;
  if (/internal error/i.test(all)) return `an internal error (exit ${r.status}): ${all.trim().slice(0, 1200)}`;
  if (STACK_LINE.test(r.stderr)) return `a stack trace on stderr (exit ${r.status}): ${r.stderr.slice(0, 1200)}`;
  if (/\b(TypeError|RangeError|ReferenceError): /.test(all))
    return `a JavaScript error (exit ${r.status}): ${all.trim().slice(0, 1200)}`;
  // exec passes its process's exit status on; anything else says why it failed.
  if (r.status !== 0 && all.trim() === '' && opts.passesStatus !== true) return `exit ${r.status} without any message`;
  return undefined;
}

/** Nothing left under a private --root. */
export function emptyRoot(root: string): string | undefined {
  const left = rootEntries(root);
  return left.length === 0 ? undefined : `left under --root: ${left.join(', ')}`;
}

/** A message that names `pointer` as tsrunc prints it ("FILE: /pointer: ..."). */
export function namesPointer(text: string, pointer: string): boolean {
  // As written to stderr: UTF-8, where a lone surrogate becomes U+FFFD.
  const shown = Buffer.from(pointer === '' ? '/' : pointer, 'utf8').toString('utf8');
  return text.includes(`: ${shown}: `);
}
