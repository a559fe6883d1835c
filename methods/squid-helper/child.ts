/**
 * One helper process: writes request lines to its stdin, reads reply lines
 * from its stdout and matches them to requests — in order (one at a time)
 * or by channel ID (the concurrent form). Anything that breaks the protocol
 * (a line that is no reply, an unknown channel, a line over 64 KiB, a reply
 * nobody waits for) ends the process: its stream can no longer be trusted.
 * Its stderr is read and reported line by line (bounded).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { encodeHelperRequest, parseHelperReply, type HelperReply } from './protocol.js';

const MAX_LINE = 64 * 1024;

export interface Pending {
  user: string;
  password: string;
  resolve: (r: HelperReply) => void;
  reject: (e: Error) => void;
  /** Set by the child while it holds the request. */
  channel?: number;
}

export interface ChildEvents {
  /** The process is gone (or never started); `pending` are the requests it held. */
  onExit(child: HelperChild, why: string, pending: Pending[]): void;
  /** A line of stderr, or a note about the process. */
  onLog(line: string): void;
  /** A reply arrived: the child may take more work. */
  onIdle(child: HelperChild): void;
}

export class HelperChild {
  private readonly proc: ChildProcess;
  private readonly inflight = new Map<number, Pending>();
  private nextChannel = 0;
  private out = '';
  private err = '';
  alive = true;
  readonly startedAt = Date.now();

  constructor(command: string, args: readonly string[], private readonly concurrency: number, private readonly events: ChildEvents, env?: NodeJS.ProcessEnv) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    this.proc.on('error', (err) => this.exit(`cannot run: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    this.proc.on('exit', (code, signal) => this.exit(signal ? `killed by ${signal}` : `exited with status ${code}`));
    this.proc.stdin!.on('error', () => {});
    this.proc.stdout!.setEncoding('utf8').on('data', (c: string) => this.onStdout(c));
    this.proc.stderr!.setEncoding('utf8').on('data', (c: string) => this.onStderr(c));
    // Helpers never keep a process alive on their own: a pending login does
    // (its timeout timer); at exit their stdin closes and they end.
    this.proc.unref();
    for (const s of [this.proc.stdin, this.proc.stdout, this.proc.stderr]) (s as unknown as { unref?: () => void })?.unref?.();
  }

  /** How many more requests it may take now. */
  get room(): number {
    if (!this.alive) return 0;
    return Math.max(this.concurrency, 1) - this.inflight.size;
  }

  get busy(): number {
    return this.inflight.size;
  }

  send(p: Pending): void {
    // One at a time: channel 0 stands for "the request in flight"; none goes on the wire.
    const channel = this.concurrency > 0 ? this.nextChannel++ % 1_000_000_000 : 0;
    p.channel = channel;
    this.inflight.set(channel, p);
    this.proc.stdin!.write(encodeHelperRequest(p.user, p.password, this.concurrency > 0 ? channel : undefined));
  }

  /** Forgets a request (timed out or its client left); a serial helper that still owes its answer is ended. */
  forget(p: Pending, why: string): void {
    if (p.channel === undefined || this.inflight.get(p.channel) !== p) return;
    this.inflight.delete(p.channel);
    if (this.concurrency === 0) this.kill(why);
  }

  kill(why: string): void {
    if (!this.alive) return;
    this.proc.stdin!.end();
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 2000);
    t.unref();
    this.proc.once('exit', () => clearTimeout(t));
    this.exit(why);
  }

  private exit(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    const pending = [...this.inflight.values()];
    this.inflight.clear();
    this.events.onExit(this, why, pending);
  }

  private onStdout(chunk: string): void {
    this.out += chunk;
    let nl: number;
    while (this.alive && (nl = this.out.indexOf('\n')) >= 0) {
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      this.onLine(line);
    }
    if (this.out.length > MAX_LINE) this.kill('wrote a line over 64 KiB');
  }

  private onLine(line: string): void {
    const reply = parseHelperReply(line, this.concurrency > 0);
    const channel = this.concurrency > 0 ? reply?.channel : 0;
    const p = channel === undefined ? undefined : this.inflight.get(channel);
    if (!reply || !p) {
      // Never echo the line: a broken helper might repeat a password.
      this.kill(reply ? 'answered a request nobody made' : 'wrote a line that is not a reply');
      return;
    }
    this.inflight.delete(channel!);
    // Settled already (its client left): the answer is dropped, the helper stays.
    p.resolve(reply);
    this.events.onIdle(this);
  }

  private onStderr(chunk: string): void {
    this.err += chunk;
    let nl: number;
    while ((nl = this.err.indexOf('\n')) >= 0) {
      const line = this.err.slice(0, nl);
      this.err = this.err.slice(nl + 1);
      if (line.trim()) this.events.onLog(`helper: ${line.slice(0, 500)}`);
    }
    if (this.err.length > MAX_LINE) this.err = '';
  }
}
