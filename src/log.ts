// Logging as runc does it: `--log FILE` appends entries, `--log-format json` makes each
// entry one line {"level","msg","time"} (containerd's shim reports the last "error" line's
// msg to the user). Without --log, entries go to stderr as text.
import * as fs from 'node:fs';

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
  private readonly format: LogFormat;
  private readonly minLevel: LogLevel;
  readonly hasFile: boolean;

  constructor(private readonly options: LoggerOptions = {}) {
    this.format = options.format ?? 'text';
    this.minLevel = options.debug ? 'debug' : 'info';
    this.hasFile = options.file !== undefined && options.file !== '';
  }

  debug(msg: string): void {
    this.write('debug', msg);
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

  get debugEnabled(): boolean {
    return this.minLevel === 'debug';
  }

  write(level: LogLevel, msg: string): void {
    if (RANK[level] < RANK[this.minLevel]) return;
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

  private target(): number {
    if (!this.hasFile) return 2;
    if (this.fd === undefined) {
      try {
        this.fd = fs.openSync(this.options.file as string, 'a', 0o644);
      } catch {
        this.fd = 2;
      }
    }
    return this.fd;
  }

  private formatEntry(level: LogLevel, msg: string): string {
    const time = new Date().toISOString();
    if (this.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
    return `time="${time}" level=${level} msg=${quoteText(msg)}\n`;
  }
}

function quoteText(msg: string): string {
  return /^[\w./:-]+$/.test(msg) ? msg : JSON.stringify(msg);
}
