/**
 * Helpers for interop specs against real programs (danted, microsocks, curl,
 * ncat, python3, ...): find a program, skip visibly or fail when CI requires
 * it, pick free loopback ports, start daemons and wait until they accept, and
 * stop everything that was started. Generic on purpose: no SOCKS here.
 *
 *   before(async function () {
 *     requireProgram(this, 'danted');
 *     port = await freePort();
 *     await spawnDaemon('danted', ['-f', conf], { readyPort: port });
 *   });
 *   after(stopAll);
 */
import { spawn, ChildProcess, SpawnOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** CI sets SOCKSKIT_INTEROP_REQUIRED=1: a missing program is then a failure, not a skip. */
export const interopRequired = (): boolean => process.env.SOCKSKIT_INTEROP_REQUIRED === '1';

/** The environment without proxy variables (curl, python and ncat would obey them), plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/_proxy$/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as bytes, for binary payloads. */
  stdoutBytes: Buffer;
  stderr: string;
}

const runs = new Set<ChildProcess>();

/**
 * Runs a program to completion and collects its output: `input` (if given)
 * is written to stdin, then stdin is closed; SIGKILLed after `timeout` ms.
 * killRunning() ends whatever is still running (for after hooks).
 */
export function runProgram(
  cmd: string,
  args: readonly string[],
  options: { input?: string | Buffer; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(cmd, args, { env: options.env ?? cleanEnv(), stdio: [stdin, 'pipe', 'pipe'] });
    runs.add(child);
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 15000);
    const done = () => {
      clearTimeout(t);
      runs.delete(child);
    };
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('close', (code, signal) => {
      done();
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** A started program with its output collected; `kill()` is safe to call twice. */
export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stderr+stdout, bounded by `timeout`. */
  waitFor(re: RegExp, timeout?: number): Promise<RegExpExecArray>;
  exited(timeout?: number): Promise<number | null>;
  kill(): void;
}

/**
 * Starts a long-running program whose output a test waits on (`waitFor`),
 * with `env` added to this process's environment. Tracked: stopPrograms()
 * ends whatever is still running (for after hooks).
 */
export function startProgram(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  child.stdout!.setEncoding('utf8').on('data', (d: string) => ((out += d), poke()));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => ((err += d), poke()));
  let exitCode: number | null | undefined;
  child.on('exit', (code) => {
    exitCode = code;
    poke();
  });
  child.on('error', () => poke());
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(re, timeout = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(err + out);
          if (m) {
            cleanup();
            resolve(m);
          } else if (exitCode !== undefined) {
            cleanup();
            reject(new Error(`process exited (${exitCode}) before ${re}; stderr: ${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re}; stderr: ${err}; stdout: ${out}`));
        }, timeout);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    exited(timeout = 5000) {
      return new Promise((resolve, reject) => {
        if (exitCode !== undefined) return resolve(exitCode);
        const timer = setTimeout(() => reject(new Error(`process did not exit in ${timeout} ms; stderr: ${err}`)), timeout);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    kill() {
      if (exitCode === undefined && child.pid !== undefined) child.kill('SIGKILL');
    },
  };
}

const started = new Set<ChildProcess>();

/** Stops every program startProgram() started that still runs (SIGTERM, then SIGKILL). */
export async function stopPrograms(): Promise<void> {
  await Promise.all([...started].map((c) => stopChild(c)));
}

/** Kills every process runProgram() started that is still running. */
export function killRunning(): void {
  for (const c of runs) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  runs.clear();
}

const SEARCH_EXTRA = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** The absolute path of `prog` on PATH (plus the sbin directories), or undefined. */
export function which(prog: string): string | undefined {
  if (prog.includes('/')) return isExecutable(prog) ? prog : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...SEARCH_EXTRA];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, prog);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the program's path. When it is missing: throws if CI requires
 * interop, otherwise prints why and skips the test or suite (`ctx` is the
 * mocha `this`).
 */
export function requireProgram(ctx: Mocha.Context, prog: string): string {
  const p = which(prog);
  if (p) return p;
  const msg = `${prog} not found on this machine`;
  if (interopRequired()) throw new Error(`${msg} (SOCKSKIT_INTEROP_REQUIRED=1)`);
  console.log(`      (skipped: ${msg})`);
  ctx.skip();
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once host:port accepts a TCP connection; rejects after `timeout` ms. */
export async function waitForPort(port: number, host = '127.0.0.1', timeout = 5000, child?: ChildProcess): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`process exited with code ${child.exitCode} before ${host}:${port} accepted`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      const t = setTimeout(() => { s.destroy(); resolve(false); }, 500);
      s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
      s.once('error', () => { clearTimeout(t); s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing accepted on ${host}:${port} within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Daemon {
  child: ChildProcess;
  /** Everything the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Daemon>();

export interface SpawnDaemonOptions extends SpawnOptions {
  /** Wait until this TCP port on `readyHost` accepts. */
  readyPort?: number;
  readyHost?: string;
  /** Bound on the wait, ms (default 5000). */
  readyTimeout?: number;
}

/** Starts a long-running program, tracked for stopAll(); waits for readiness when asked. */
export async function spawnDaemon(cmd: string, args: readonly string[], options: SpawnDaemonOptions = {}): Promise<Daemon> {
  const { readyPort, readyHost, readyTimeout, ...spawnOpts } = options;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
  let out = '';
  const keep = (b: Buffer) => { if (out.length < 65536) out += b.toString(); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (e) => { out += `\nspawn error: ${e.message}`; });
  const d: Daemon = {
    child,
    output: () => out,
    stop: () => stopChild(child).then(() => { running.delete(d); }),
  };
  running.add(d);
  if (readyPort !== undefined) {
    try {
      await waitForPort(readyPort, readyHost ?? '127.0.0.1', readyTimeout ?? 5000, child);
    } catch (err) {
      await d.stop();
      throw new Error(`${path.basename(cmd)} did not become ready: ${(err as Error).message}\n${out}`);
    }
  }
  return d;
}

/** SIGTERM, then SIGKILL after `grace` ms; resolves when the process has exited. */
export function stopChild(child: ChildProcess, grace = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), grace);
    const hard = setTimeout(resolve, grace + 2000); // never wait forever
    child.once('exit', () => { clearTimeout(kill); clearTimeout(hard); resolve(); });
    child.kill('SIGTERM');
  });
}

/** Stops every daemon started with spawnDaemon(); use in after hooks. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((d) => d.stop()));
}

/** A fresh temporary directory, and a way to write files into it. Remove with cleanup(). */
export function tempDir(prefix = 'sockskit-'): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    write(name: string, text: string): string {
      const p = path.join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A TCP echo server on 127.0.0.1:0; `greeting` (if any) is sent first on each connection. */
export async function echoServer(greeting?: string | Buffer): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const state = { port: 0, connections: 0, close: async () => {} };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.connections++;
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    if (greeting !== undefined) s.write(greeting);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () => new Promise<void>((r) => {
    for (const s of socks) s.destroy();
    server.close(() => r());
  });
  return state;
}

/** Waits for a program's "listening on 127.0.0.1:PORT" line and returns PORT (the program's output on failure). */
export async function listeningPort(d: Daemon, timeout = 20000): Promise<number> {
  const re = /listening on 127\.0\.0\.1:(\d+)/;
  const end = Date.now() + timeout;
  while (Date.now() < end && !re.test(d.output()) && d.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const m = re.exec(d.output());
  if (!m) throw new Error(`no listening line within ${timeout} ms:\n${d.output()}`);
  return Number(m[1]);
}
