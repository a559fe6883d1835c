/**
 * Helpers for the interop specs that drive real Python client libraries from
 * Debian packages (python3-python-socks, python3-socksio, python3-aiorpcx)
 * with /usr/bin/python3 (not whatever python3 is first on PATH):
 *
 *   - requirePythonModule(ctx, 'socksio'): skip the suite visibly when
 *     /usr/bin/python3 or the module is missing, fail when
 *     SOCKSKIT_INTEROP_REQUIRED=1;
 *   - runPython(script, args): run a script with a bounded wait (killed after
 *     `timeout` ms), collect its output; killPython() stops any left over;
 *   - startProxy(args): the spawned `node dist/examples/proxy.js` on
 *     127.0.0.1:0 and [::1]:0, ports read from its "listening on" lines;
 *   - dualStack(handler): one TCP server on 127.0.0.1:P and (when it can) [::1]:P,
 *     so a target reached by `localhost` works whichever address it resolves to.
 *
 * Only loopback is used; no name but `localhost` is ever resolved.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { interopRequired, requireProgram, spawnDaemon, Daemon, runProgram, killRunning, cleanEnv as baseCleanEnv } from './interop.js';
import { DIST as PATHS_DIST } from './paths.js';

/** Debian's python, where the python3-* packages are installed. */
export const PYTHON = '/usr/bin/python3';
export const DIST = PATHS_DIST;
export const PROXY = path.join(DIST, 'examples', 'proxy.js');
export const GATEWAY = path.join(DIST, 'examples', 'electrum-gateway.js');

/** The environment without proxy variables and without a user site dir, so only Debian's modules load. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = baseCleanEnv();
  for (const k of Object.keys(env)) if (/^PYTHON/.test(k)) delete env[k];
  return { ...env, PYTHONNOUSERSITE: '1', PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

const moduleChecks = new Map<string, string | undefined>();

/**
 * Skips the test or suite (`ctx` is mocha's `this`) when /usr/bin/python3 or
 * one of `modules` cannot be imported; throws instead when CI requires interop.
 */
export function requirePythonModule(ctx: Mocha.Context, ...modules: string[]): void {
  requireProgram(ctx, PYTHON);
  for (const mod of modules) {
    if (!moduleChecks.has(mod)) {
      const r = spawnSync(PYTHON, ['-c', `import ${mod}`], { env: cleanEnv(), timeout: 15000, encoding: 'utf8' });
      moduleChecks.set(mod, r.status === 0 ? undefined : (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop());
    }
    const why = moduleChecks.get(mod);
    if (why === undefined) continue;
    const msg = `${PYTHON} cannot import ${mod} (${why})`;
    if (interopRequired()) throw new Error(`${msg} (SOCKSKIT_INTEROP_REQUIRED=1)`);
    console.log(`      (skipped: ${msg})`);
    ctx.skip();
  }
}

export interface PyResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `/usr/bin/python3 script args...` to completion; SIGKILLed after `timeout` ms. */
export function runPython(script: string, args: readonly string[], timeout = 20000): Promise<PyResult> {
  return runProgram(PYTHON, [script, ...args], { timeout, env: cleanEnv() });
}

/** Kills every Python process runPython() started that is still running (after hooks). */
export const killPython = killRunning;

/** The last line of stdout that starts with `tag`, for assertions; '' when there is none. */
export function resultLine(r: PyResult, tag: string): string {
  return r.stdout.split('\n').filter((l) => l.startsWith(tag)).pop() ?? '';
}

/** Polls `cond` every 20 ms until it holds, for at most `timeout` ms. */
export async function until(cond: () => boolean, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Spawns a node program and waits (bounded) for every `listening on ...` line `patterns` asks for. */
export async function spawnListening(script: string, args: string[], patterns: RegExp[], env: NodeJS.ProcessEnv = {}): Promise<{ daemon: Daemon; ports: number[] }> {
  const daemon = await spawnDaemon(process.execPath, [script, ...args], { env: cleanEnv(env) });
  const ports: number[] = [];
  try {
    await until(() => daemon.child.exitCode !== null || patterns.every((p) => p.test(daemon.output())), 10000, `${path.basename(script)} to listen`);
  } catch (e) {
    await daemon.stop();
    throw new Error(`${(e as Error).message}\n${daemon.output()}`);
  }
  for (const p of patterns) {
    const m = p.exec(daemon.output());
    if (!m) {
      await daemon.stop();
      throw new Error(`${path.basename(script)} exited: ${daemon.output()}`);
    }
    ports.push(Number(m[1]));
  }
  return { daemon, ports };
}

/** sockskit-proxy on 127.0.0.1:0 and [::1]:0 (when ::1 exists) with extra flags. */
export async function startProxy(args: string[] = [], v6 = hasIPv6Loopback): Promise<{ port: number; port6: number; daemon: Daemon }> {
  const listen = ['--listen', '127.0.0.1:0', ...(v6 ? ['--listen', '[::1]:0'] : [])];
  const patterns = [/listening on 127\.0\.0\.1:(\d+)/, ...(v6 ? [/listening on \[::1\]:(\d+)/] : [])];
  const { daemon, ports } = await spawnListening(PROXY, [...listen, ...args], patterns);
  return { port: ports[0]!, port6: ports[1] ?? 0, daemon };
}

/** Whether this machine can listen on ::1 (set by probeIPv6()). */
export let hasIPv6Loopback = false;

export async function probeIPv6(): Promise<boolean> {
  hasIPv6Loopback = await new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
  return hasIPv6Loopback;
}

export interface DualStack {
  port: number;
  /** Whether [::1]:port is served too. */
  v6: boolean;
  connections: number;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1:P and, if possible, [::1]:P, calling `handler` for each connection. */
export async function dualStack(handler: (s: net.Socket) => void): Promise<DualStack> {
  const socks = new Set<net.Socket>();
  const state = { connections: 0 };
  const onConn = (s: net.Socket) => {
    state.connections++;
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => s.destroy());
    handler(s);
  };
  const v4 = net.createServer({ allowHalfOpen: true }, onConn);
  await new Promise<void>((r) => v4.listen(0, '127.0.0.1', () => r()));
  const port = (v4.address() as net.AddressInfo).port;
  const v6 = net.createServer({ allowHalfOpen: true }, onConn);
  const v6ok = await new Promise<boolean>((r) => {
    v6.once('error', () => r(false));
    v6.listen(port, '::1', () => r(true));
  });
  const closeOne = (s: net.Server) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()));
  return {
    port,
    v6: v6ok,
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const s of socks) s.destroy();
      await Promise.all([closeOne(v4), closeOne(v6)]);
    },
  };
}

/** An echo target on 127.0.0.1:P and [::1]:P. */
export function dualStackEcho(): Promise<DualStack> {
  return dualStack((s) => s.pipe(s));
}

/** A port on 127.0.0.1 where nothing listens (connection refused), found by listening and closing. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
