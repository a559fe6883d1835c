/**
 * An MIT KDC on loopback for the Kerberos specs, in a temporary directory:
 * its own krb5.conf / kdc.conf (KRB5_CONFIG / KRB5_KDC_PROFILE, no system
 * file touched), `kdb5_util create -s`, principals and keytabs through
 * `kadmin.local`, `krb5kdc -n` on a free high port (UDP and TCP), `kinit`
 * into a cache file. Stands up in about half a second.
 *
 * The MIT library inside this process (the binding) reads KRB5_CONFIG from
 * the environment when it makes a krb5 context, so start() sets it in
 * process.env (the realm and the KDC address live there) and stop()
 * restores it. Programs started by a spec get `kdc.env`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, interopRequired, runProgram, stopChild, tempDir, waitForPort, which } from './interop.js';

export const REALM = 'SOCKSKIT.TEST';
const PROGRAMS = ['krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit'] as const;

export interface Kdc {
  realm: string;
  dir: string;
  port: number;
  /** KRB5_CONFIG and KRB5_KDC_PROFILE for child processes. */
  env: Record<string, string>;
  /** Adds a principal: with a password, or a random key. */
  addPrincipal(name: string, password?: string): Promise<void>;
  /** Writes the keys of `principals` into a new keytab file (mode 0644: Dante's sockd reads it as nobody). */
  keytab(file: string, principals: readonly string[]): Promise<string>;
  /** kinit into a new cache file; returns "FILE:<path>". `lifetime` e.g. '10s'. */
  kinit(principal: string, password: string, cache: string, lifetime?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Why a KDC cannot run here (a program missing), or undefined. */
export function kdcMissing(): string | undefined {
  const gone = PROGRAMS.filter((p) => !which(p));
  return gone.length ? `${gone.join(', ')} not found (install krb5-kdc krb5-admin-server krb5-user)` : undefined;
}

/** Skips (or, under SOCKSKIT_INTEROP_REQUIRED=1, fails) when `reason` is set. */
export function skipUnless(ctx: Mocha.Context, reason: string | undefined): void {
  if (!reason) return;
  if (interopRequired()) throw new Error(`${reason} (SOCKSKIT_INTEROP_REQUIRED=1)`);
  console.log(`      (skipped: ${reason})`);
  ctx.skip();
}

function confs(dir: string, port: number): { krb5: string; kdc: string } {
  const krb5 = [
    '[libdefaults]',
    `  default_realm = ${REALM}`,
    '  dns_lookup_kdc = false',
    '  dns_lookup_realm = false',
    '  dns_canonicalize_hostname = false',
    '  rdns = false',
    '  udp_preference_limit = 1',
    // Expiry specs: a ticket is expired one second after its end, not five minutes.
    '  clockskew = 1',
    '[realms]',
    `  ${REALM} = {`,
    `    kdc = 127.0.0.1:${port}`,
    '  }',
    '[domain_realm]',
    `  localhost = ${REALM}`,
    `  .test = ${REALM}`,
    '',
  ].join('\n');
  const kdc = [
    '[kdcdefaults]',
    `  kdc_listen = 127.0.0.1:${port}`,
    `  kdc_tcp_listen = 127.0.0.1:${port}`,
    '[realms]',
    `  ${REALM} = {`,
    `    database_name = ${dir}/principal`,
    `    key_stash_file = ${dir}/stash`,
    `    acl_file = ${dir}/kadm5.acl`,
    '    max_life = 1d',
    '  }',
    '[logging]',
    `  kdc = FILE:${dir}/kdc.log`,
    '',
  ].join('\n');
  return { krb5, kdc };
}

async function run(env: NodeJS.ProcessEnv, cmd: string, args: string[], input?: string): Promise<void> {
  const r = await runProgram(which(cmd)!, args, { env, input, timeout: 15_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
}

/** Creates the realm and starts krb5kdc; call stop() in an after hook. */
export async function startKdc(): Promise<Kdc> {
  const tmp = tempDir('sockskit-kdc-');
  const dir = tmp.dir;
  const port = await freePort();
  const c = confs(dir, port);
  const env = { KRB5_CONFIG: tmp.write('krb5.conf', c.krb5), KRB5_KDC_PROFILE: tmp.write('kdc.conf', c.kdc) };
  tmp.write('kadm5.acl', '');
  const childEnv = { ...process.env, ...env, KRB5CCNAME: `FILE:${dir}/unused-ccache` };
  let kdc: ChildProcess | undefined;
  const saved = { KRB5_CONFIG: process.env.KRB5_CONFIG };
  const stop = async (): Promise<void> => {
    if (kdc) await stopChild(kdc);
    if (saved.KRB5_CONFIG === undefined) delete process.env.KRB5_CONFIG;
    else process.env.KRB5_CONFIG = saved.KRB5_CONFIG;
    tmp.cleanup();
  };
  try {
    await run(childEnv, 'kdb5_util', ['create', '-s', '-r', REALM, '-P', 'sockskit-master-key']);
    kdc = spawn(which('krb5kdc')!, ['-n', '-r', REALM], { env: childEnv, stdio: 'ignore' });
    await waitForPort(port, '127.0.0.1', 5000, kdc);
  } catch (err) {
    await stop();
    throw err;
  }
  process.env.KRB5_CONFIG = env.KRB5_CONFIG;
  const kadmin = (query: string) => run(childEnv, 'kadmin.local', ['-r', REALM, '-q', query]);
  return {
    realm: REALM,
    dir,
    port,
    env,
    addPrincipal: (name, password) => kadmin(password === undefined ? `addprinc -randkey ${name}` : `addprinc -pw ${password} ${name}`),
    async keytab(file, principals) {
      const p = path.join(dir, file);
      for (const principal of principals) await kadmin(`ktadd -k ${p} ${principal}`);
      chmodSync(p, 0o644);
      return p;
    },
    async kinit(principal, password, cache, lifetime) {
      const p = path.join(dir, cache);
      await run({ ...childEnv, KRB5CCNAME: `FILE:${p}` }, 'kinit', [...(lifetime ? ['-l', lifetime] : []), '-c', `FILE:${p}`, principal], `${password}\n`);
      return `FILE:${p}`;
    },
    stop,
  };
}

/** Writes text to a file in the KDC's directory (configs for other programs). */
export function writeIn(kdc: Kdc, name: string, text: string): string {
  const p = path.join(kdc.dir, name);
  writeFileSync(p, text);
  return p;
}
