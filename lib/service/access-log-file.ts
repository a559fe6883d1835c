/** The access log: stderr, a file (reopened on SIGHUP, for logrotate), or off. */
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { formatJson, formatText, type ConnectionRecord } from '../server/index.js';
import { UsageError } from './errors.js';
import { describeFsError } from './values.js';

type AccessLogFormat = 'text' | 'json';

export class AccessLogFile {
  private fd: number | undefined;
  /** `target`: '-' (the `stderr` stream), 'off', or a file opened for appending. */
  constructor(private target: string, private format: AccessLogFormat, private readonly worker?: number, private readonly stderr: { write(s: string): unknown } = process.stderr) {
    this.open();
  }

  private open(): void {
    if (this.target === '-' || this.target === 'off') return;
    try {
      this.fd = openSync(this.target, 'a', 0o640);
    } catch (err) {
      throw new UsageError(`cannot open --access-log file ${this.target}: ${describeFsError(err)}`);
    }
  }

  /** Reopens (same or new target): the new file is opened before the old one is closed, so a failure keeps the old. */
  reopen(target: string, format: AccessLogFormat): void {
    const old = this.fd;
    const prev = this.target;
    this.target = target;
    this.fd = undefined;
    try {
      this.open();
    } catch (err) {
      this.target = prev;
      this.fd = old;
      throw err;
    }
    this.format = format;
    if (old !== undefined) closeSync(old);
  }

  write(r: ConnectionRecord): void {
    if (this.target === 'off') return;
    const rec = this.worker === undefined ? r : { ...r, worker: this.worker };
    const line = this.format === 'json' ? formatJson(rec) : formatText(rec);
    if (this.fd === undefined) {
      this.stderr.write(line);
      return;
    }
    try {
      writeSync(this.fd, line);
    } catch {
      // A full disk must not take the proxy down; the line is lost.
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** --check: the access-log file could be opened for appending (without creating it). */
export function checkAccessLogWritable(target: string): void {
  if (target === '-' || target === 'off') return;
  try {
    accessSync(existsSync(target) ? target : path.dirname(path.resolve(target)), fsConstants.W_OK);
  } catch (err) {
    throw new UsageError(`cannot open --access-log file ${target}: ${describeFsError(err)}`);
  }
}
