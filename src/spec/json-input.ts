// The JSON documents tsrunc is given (config.json, process.json, update --resources) are read
// here (issue 12). JSON.parse first (it is native, and iterative whatever the depth), then one
// walk of the result, without recursion, that looks for what needs the text itself; only then
// (rarely) the scanner below reads the text again, to say where:
//  - a syntax error is told by line and column and kind, never by quoting the text: the file
//    may be a symlink to one the caller cannot read (JSON.parse's message quotes ~10 bytes);
//  - nesting is bounded (MAX_JSON_DEPTH), so that deep documents fail here with the pointer of
//    where they get too deep, not later with "Maximum call stack size exceeded";
//  - a NUL in any string, property names included, is a problem at its pointer (a name: at
//    its object, as the schema reports property names, the name escaped): the executor
//    is C, and a string cut at its first NUL there is not the one checked here;
//  - integer literals beyond what a double holds exactly are kept as written, by pointer, for
//    the checks that must tell 18446744073709551615 from its neighbours (rlimits).
import { ConfigError, type Problem } from '../errors';
import { escapePointer, schemaProblems } from './schema-errors';
import type { CompiledValidator } from './validators.generated';

/** How deep arrays and objects may nest (the document itself is level 1). */
export const MAX_JSON_DEPTH = 512;

export interface ParsedJson {
  doc: unknown;
  /** Integer literals that are not safe integers (beyond ±(2^53 - 1)), as written, by pointer. */
  bigIntegers: Map<string, string>;
}

/** One open array or object: its current index or property name. */
interface Frame {
  array: boolean;
  index: number;
  key: string;
}

class JsonSyntaxError extends Error {
  constructor(
    readonly at: number,
    readonly kind: string,
    readonly pointer = '',
  ) {
    super(kind);
  }
}

const PLAIN = /[^"\\\u0000-\u001f]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u']);

/** Checks the grammar, depth and strings of `text` in one pass; throws JsonSyntaxError. */
class Scanner {
  private i = 0;
  private readonly stack: Frame[] = [];
  readonly nulProblems: Problem[] = [];
  readonly bigIntegers = new Map<string, string>();

  /** `maxDepth`: MAX_JSON_DEPTH, or no bound when only a syntax error is looked for. */
  constructor(
    private readonly text: string,
    private readonly maxDepth = MAX_JSON_DEPTH,
  ) {}

  scan(): void {
    for (;;) {
      // A value; after an array or object was opened, its first member's.
      if (this.value()) continue;
      // After a value: close what ends here, up to the next value (or the end of the text).
      for (;;) {
        this.space();
        const top = this.stack[this.stack.length - 1];
        if (top === undefined) {
          if (this.i < this.text.length) throw this.error('unexpected data after the JSON value');
          return;
        }
        const c = this.text[this.i];
        if (c === ',') {
          this.i++;
          if (top.array) top.index++;
          else this.member(top);
          break;
        }
        if (c !== (top.array ? ']' : '}'))
          throw this.error(c === undefined ? 'unexpected end of input' : `expected ',' or '${top.array ? ']' : '}'}'`);
        this.i++;
        this.stack.pop();
      }
    }
  }

  pointer(): string {
    return this.stack.map((f) => `/${f.array ? String(f.index) : escapePointer(f.key)}`).join('');
  }

  private error(kind: string): JsonSyntaxError {
    return new JsonSyntaxError(this.i, kind);
  }

  private space(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.i++;
    }
  }

  /**
   * One value. An array or object is only opened here: true when it has members, whose values
   * scan() then reads (no recursion, whatever the depth).
   */
  private value(): boolean {
    this.space();
    const c = this.text[this.i];
    if (c === '{' || c === '[') {
      if (this.stack.length >= this.maxDepth)
        throw new JsonSyntaxError(this.i, `nested deeper than ${this.maxDepth} levels`, this.pointer());
      this.i++;
      const frame: Frame = { array: c === '[', index: 0, key: '' };
      this.stack.push(frame);
      this.space();
      if (this.text[this.i] === (frame.array ? ']' : '}')) {
        this.i++;
        this.stack.pop();
        return false;
      }
      if (!frame.array) this.member(frame);
      return true;
    }
    if (c === '"') {
      if (this.string())
        this.nulProblems.push({ pointer: this.pointer(), message: 'must not contain a NUL character' });
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      this.number();
    } else if (!this.literal('true') && !this.literal('false') && !this.literal('null')) {
      throw this.error(c === undefined ? 'unexpected end of input' : 'unexpected character');
    }
    return false;
  }

  /** `"name":` of an object member, its name set on `frame`. */
  private member(frame: Frame): void {
    this.space();
    if (this.text[this.i] !== '"')
      throw this.error(
        this.text[this.i] === undefined ? 'unexpected end of input' : 'expected a property name in double quotes',
      );
    const start = this.i;
    const nul = this.string();
    const raw = this.text.slice(start + 1, this.i - 1);
    frame.key = raw.includes('\\') ? (JSON.parse(this.text.slice(start, this.i)) as string) : raw;
    if (nul) {
      // At the object, as the schema's property-name problems are (the name, escaped, says which).
      const at = this.pointer().slice(0, -(escapePointer(frame.key).length + 1));
      this.nulProblems.push({
        pointer: at,
        message: `has a property name with a NUL character: ${JSON.stringify(frame.key)}`,
      });
    }
    this.space();
    if (this.text[this.i] !== ':')
      throw this.error(
        this.text[this.i] === undefined ? 'unexpected end of input' : "expected ':' after a property name",
      );
    this.i++;
  }

  /** A string at this.i (on its opening quote); true when it holds a NUL (\u0000). */
  private string(): boolean {
    const t = this.text;
    const start = this.i;
    let nul = false;
    this.i++;
    for (;;) {
      PLAIN.lastIndex = this.i;
      PLAIN.test(t);
      this.i = PLAIN.lastIndex;
      const c = t[this.i];
      if (c === '"') {
        this.i++;
        return nul;
      }
      if (c === undefined) throw new JsonSyntaxError(start, 'unterminated string');
      if (c !== '\\') throw this.error('unescaped control character in a string');
      const e = t[this.i + 1];
      if (e === undefined || !ESCAPES.has(e)) throw new JsonSyntaxError(this.i, 'invalid escape in a string');
      if (e === 'u') {
        HEX4.lastIndex = this.i + 2;
        if (!HEX4.test(t)) throw new JsonSyntaxError(this.i, 'invalid \\u escape in a string');
        if (t.startsWith('0000', this.i + 2)) nul = true;
        this.i += 6;
      } else {
        this.i += 2;
      }
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    if (m === null) throw this.error('invalid number');
    const literal = m[0];
    this.i += literal.length;
    // (15 digits and fewer are always safe)
    if (literal.length > 15) {
      const v = Number(literal);
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) this.bigIntegers.set(this.pointer(), literal);
    }
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.i)) return false;
    this.i += word.length;
    return true;
  }
}

/** Line and column (from 1) of offset `at` in `text`. */
function lineAndColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < at; nl = text.indexOf('\n', nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  return { line, column: at - lineStart + 1 };
}

function syntaxProblem(text: string, err: JsonSyntaxError): Problem {
  const { line, column } = lineAndColumn(text, err.at);
  // (a document nested too deep is JSON, and its pointer says where)
  if (err.pointer !== '') return { pointer: err.pointer, message: `${err.kind} (line ${line}, column ${column})` };
  return { pointer: '', message: `invalid JSON at line ${line}, column ${column}: ${err.kind}` };
}

/**
 * What a walk of a parsed document finds that needs the scanner: a string with a NUL (only
 * looked for when the text has a \u0000 escape, the only way JSON holds one), an integer that
 * is not safe, nesting deeper than MAX_JSON_DEPTH. Iterative: two stacks, values and depths.
 */
function needsScan(doc: unknown, strings: boolean): boolean {
  const values: unknown[] = [doc];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop() as number;
    if (typeof v !== 'object' || v === null) {
      if (
        typeof v === 'number'
          ? Number.isInteger(v) && !Number.isSafeInteger(v)
          : strings && typeof v === 'string' && v.includes('\0')
      )
        return true;
      continue;
    }
    if (depth > MAX_JSON_DEPTH) return true;
    const items = Array.isArray(v) ? v : Object.values(v);
    if (strings && !Array.isArray(v) && Object.keys(v).some((k) => k.includes('\0'))) return true;
    for (const item of items) {
      values.push(item);
      depths.push(depth + 1);
    }
  }
  return false;
}

/**
 * Parses a document tsrunc was given; `file` names it in errors (ConfigError: a syntax error
 * or too deep nesting, with where; or every NUL found, each at its pointer).
 */
export function parseJson(text: string, file: string): ParsedJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // (JSON.parse's own message quotes the text)
    throw new ConfigError(file, [{ pointer: '', message: describeJsonError(text) ?? 'invalid JSON' }]);
  }
  if (!needsScan(doc, text.includes('u0000'))) return { doc, bigIntegers: new Map() };
  const scanner = new Scanner(text);
  try {
    scanner.scan();
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new ConfigError(file, [syntaxProblem(text, err)]);
    throw err;
  }
  if (scanner.nulProblems.length > 0) throw new ConfigError(file, scanner.nulProblems);
  return { doc, bigIntegers: scanner.bigIntegers };
}

/**
 * Parses `text` and checks it against a compiled schema, then with `check` (given the integer
 * literals JSON.parse cannot hold exactly); problems name `file`.
 */
export function parseChecked<T>(
  text: string,
  file: string,
  validator: CompiledValidator,
  check?: (doc: T, bigIntegers: Map<string, string>) => Problem[],
  defaults?: (doc: unknown) => void,
): T {
  const { doc, bigIntegers } = parseJson(text, file);
  defaults?.(doc);
  const problems = schemaProblems(validator, doc);
  if (problems.length === 0 && check !== undefined) problems.push(...check(doc as T, bigIntegers));
  if (problems.length > 0) throw new ConfigError(file, problems);
  return doc as T;
}

/**
 * Why `text` is not JSON, as "invalid JSON at line L, column C: KIND" (never its bytes), for a
 * document JSON.parse refused (state.json); undefined when it is JSON after all.
 */
export function describeJsonError(text: string): string | undefined {
  try {
    // (no depth bound: the syntax error may lie past a deep part, and the stack is an array)
    new Scanner(text, Infinity).scan();
    return undefined;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return syntaxProblem(text, err).message;
    throw err;
  }
}
