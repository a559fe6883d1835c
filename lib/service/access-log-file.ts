/** The access log: stderr, a file (reopened on SIGHUP, for logrotate), or off. */
import { accessSync, closeSync, constants as fsConstants, existsSync, lstatSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { formatJson, formatText, type ConnectionRecord } from '../server/index.js';
import { UsageError } from './errors.js';
import { describeFsError } from './values.js';

type AccessLogFormat = 'text' | 'json';

/** Logs with lines not yet written: written at exit too (a crash of the worker included). */
const unflushed = new Set<AccessLogFile>();
let exitHook = false;
function flushAll(): void {
  for (const log of unflushed) log.flush();
}

/** Pending lines are written at most this long after the first of them (ms)… */
export const ACCESS_LOG_FLUSH_MS = 50;
/** …or once this many characters wait, at the end of that turn of the event loop. */
export const ACCESS_LOG_FLUSH_CHARS = 8 * 1024;

/**
 * Lines are batched, not one system call each: under load most connections
 * end in turns of the event loop of their own (a batch per turn made 0.88
 * writes per connection, measured). Once 8 KiB wait they go out at the end
 * of the turn that filled them (setImmediate: right after the events of that
 * turn, typically a close just relayed, not in the middle of someone's
 * handshake); a slow trickle goes out 50 ms after its first line. Flushed
 * before a reopen, on close() and at process exit (also an exit on an
 * uncaught exception): no line is lost short of a SIGKILL, and then at most
 * 50 ms or 8 KiB of them.
 */
export class AccessLogFile {
  private fd: number | undefined;
  private pending = '';
  private scheduled: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  /** `target`: '-' (the `stderr` stream), 'off', or a file opened for appending. */
  constructor(private target: string, private format: AccessLogFormat, private readonly worker?: number, private readonly stderr: { write(s: string): unknown } = process.stderr) {
    this.open();
  }

  private open(): void {
    if (this.target === '-' || this.target === 'off') return;
    try {
      // O_NOFOLLOW: a link planted where the log goes would have a root proxy append to any file.
      this.fd = openSync(this.target, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o640);
    } catch (err) {
      throw accessLogError(this.target, err);
    }
  }

  /** Reopens (same or new target): the new file is opened before the old one is closed, so a failure keeps the old. */
  reopen(target: string, format: AccessLogFormat): void {
    // The lines so far belong to the old target.
    this.flush();
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
    const w = this.worker;
    this.pending += this.format === 'json' ? formatJson(w === undefined ? r : { ...r, worker: w }) : formatText(r, w ?? r.worker);
    if (this.pending.length >= ACCESS_LOG_FLUSH_CHARS) this.soon ??= setImmediate(this.flush);
    if (this.scheduled) return;
    // Unref'd: a pending line never keeps the process alive (exit writes it).
    this.scheduled = setTimeout(this.flush, ACCESS_LOG_FLUSH_MS).unref();
    unflushed.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', flushAll);
    }
  }

  /** Writes the pending lines now (one write). */
  readonly flush = (): void => {
    if (this.scheduled) clearTimeout(this.scheduled);
    if (this.soon) clearImmediate(this.soon);
    this.scheduled = undefined;
    this.soon = undefined;
    unflushed.delete(this);
    const text = this.pending;
    if (text === '') return;
    this.pending = '';
    if (this.fd === undefined) {
      this.stderr.write(text);
      return;
    }
    try {
      const b = Buffer.from(text);
      for (let off = 0; off < b.length; ) off += writeSync(this.fd, b, off);
    } catch {
      // A full disk must not take the proxy down; the lines are lost.
    }
  };

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** --check: the access-log file could be opened for appending (without creating it). */
export function checkAccessLogWritable(target: string): void {
  if (target === '-' || target === 'off') return;
  try {
    if (lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink()) throw Object.assign(new Error('symbolic link'), { code: 'ELOOP' });
    accessSync(existsSync(target) ? target : path.dirname(path.resolve(target)), fsConstants.W_OK);
  } catch (err) {
    throw accessLogError(target, err);
  }
}

function accessLogError(target: string, err: unknown): UsageError {
  if ((err as NodeJS.ErrnoException).code === 'ELOOP') return new UsageError(`--access-log file ${target} is a symbolic link: refused (give the file itself)`);
  return new UsageError(`cannot open --access-log file ${target}: ${describeFsError(err)}`);
}
