// Logging as runc does it: `--log FILE` is opened (created) as the command starts and entries
// are appended to it, `--log-format json` makes each entry one line {"level","msg","time"}
// (containerd's shim reports the last "error" line's msg to the user), `--debug` adds
// level=debug entries saying what is being done. Without --log, entries go to stderr.
import * as fs from 'node:fs';
import { systemError } from './errors';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export interface LoggerOptions {
  file?: string;
  format?: LogFormat;
  debug?: boolean;
}

export class Logger {
  private fd: number | undefined;
  private file: string | undefined;
  private format: LogFormat = 'text';
  private minLevel: LogLevel = 'info';
  /** Nesting depth of quietly(): warnings and info held back while above 0. */
  private quiet = 0;

  constructor(options: LoggerOptions = {}) {
    this.configure(options);
  }

  /** Whether entries go to a --log file (and not to stderr). */
  get hasFile(): boolean {
    return this.file !== undefined && this.fd !== 2;
  }

  get debugEnabled(): boolean {
    return this.minLevel === 'debug';
  }

  /**
   * Opens --log now, creating it, as runc does at start (callers tail the file). A file that
   * cannot be opened is an error, as in runc; entries then go to stderr.
   */
  open(): void {
    if (this.file === undefined || this.fd !== undefined) return;
    try {
      this.fd = fs.openSync(this.file, 'a', 0o644);
    } catch (err) {
      this.fd = 2;
      throw systemError(`open ${this.file}`, err);
    }
  }

  /**
   * Takes the options the full parser read (yargs accepts global flags after the command too,
   * where the pre-scan of main.ts does not look): a --log found there is opened now.
   */
  adopt(options: LoggerOptions): void {
    const file = options.file === '' ? undefined : options.file;
    if (
      file === this.file &&
      (options.format ?? 'text') === this.format &&
      (options.debug === true) === this.debugEnabled
    )
      return;
    const opened = this.fd !== undefined;
    if (file !== this.file) this.close();
    this.configure(options);
    if (opened) this.open();
  }

  /**
   * A debug entry. Pass a function to build the message: it runs only under --debug, so
   * that debugging costs a command nothing when it is off.
   */
  debug(msg: string | (() => string)): void {
    if (this.minLevel !== 'debug') return;
    this.write('debug', typeof msg === 'string' ? msg : msg());
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  warn(msg: string): void {
    this.write('warning', msg);
  }
  error(msg: string): void {
    this.write('error', msg);
  }

  /** Runs `fn` with its warnings and info entries held back (errors and debug entries pass). */
  quietly<T>(fn: () => T): T {
    this.quiet++;
    try {
      return fn();
    } finally {
      this.quiet--;
    }
  }

  write(level: LogLevel, msg: string): void {
    if (RANK[level] < RANK[this.minLevel]) return;
    if (this.quiet > 0 && (level === 'info' || level === 'warning')) return;
    const line = this.formatEntry(level, msg);
    const fd = this.target();
    try {
      fs.writeSync(fd, line);
    } catch {
      // A log that cannot be written must not turn into a second failure.
    }
  }

  close(): void {
    if (this.fd !== undefined && this.fd > 2) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private configure(options: LoggerOptions): void {
    this.file = options.file === undefined || options.file === '' ? undefined : options.file;
    this.format = options.format ?? 'text';
    this.minLevel = options.debug === true ? 'debug' : 'info';
  }

  private target(): number {
    if (this.file === undefined) return 2;
    if (this.fd === undefined) {
      // A library user's logger that nobody opened: opened on first use, stderr if it cannot be.
      try {
        this.open();
      } catch {
        // this.fd is 2 now
      }
    }
    return this.fd ?? 2;
  }

  private formatEntry(level: LogLevel, msg: string): string {
    const time = rfc3339Seconds(new Date());
    if (this.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
    return `time="${time}" level=${level} msg=${quoteText(msg)}\n`;
  }
}

/**
 * An entry's time as runc's logrus writes it (Go's time.RFC3339): local time in whole seconds
 * with the zone's offset, "Z" where the offset is zero.
 */
export function rfc3339Seconds(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${local}${offset > 0 ? '+' : '-'}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

function quoteText(msg: string): string {
  return /^[\w./:-]+$/.test(msg) ? msg : JSON.stringify(msg);
}
