/**
 * Loads the native binding (native/kerberos, built by `npm run build:kerberos`
 * or best-effort on install) lazily, on the first use of the mechanism, so
 * that everything else works where it was not built.
 */
import { createRequire } from 'node:module';
import { KerberosUnavailableError } from './errors.js';

type NameType = 'hostbased' | 'user' | 'principal';

export interface NativeName {
  display(): string;
  release(): void;
}

export interface NativeCredential {
  release(): void;
}

export interface NativeStep {
  token: Buffer;
  complete: boolean;
  flags: number;
  peer?: string | null;
}

export interface NativeSecurityContext {
  initSecContext(cred: NativeCredential | null, target: NativeName, flags: number, token: Buffer | null): Promise<NativeStep>;
  acceptSecContext(cred: NativeCredential | null, token: Buffer): Promise<NativeStep>;
  wrap(data: Buffer, confidential: boolean): { token: Buffer; confidential: boolean };
  unwrap(token: Buffer): { data: Buffer; confidential: boolean; supplementary: number };
  getMic(data: Buffer): Buffer;
  verifyMic(data: Buffer, mic: Buffer): number;
  wrapSizeLimit(confidential: boolean, maxToken: number): number;
  inquire(): { srcName: string | null; targName: string | null; lifetime: number; flags: number; locallyInitiated: boolean; open: boolean };
  release(): void;
}

export interface AcquireOptions {
  usage: 'accept' | 'initiate';
  name?: NativeName;
  keytab?: string;
  ccache?: string;
  clientKeytab?: string;
  rcache?: string;
}

export interface NativeGss {
  Name: new (text: string, type: NameType) => NativeName;
  SecurityContext: new () => NativeSecurityContext;
  acquireCredential(options: AcquireOptions): Promise<NativeCredential>;
  displayStatus(major: number, minor: number): string;
}

/** GSS flags (RFC 2744). */
export const GSS_C_MUTUAL_FLAG = 2;
export const GSS_C_REPLAY_FLAG = 4;
export const GSS_C_SEQUENCE_FLAG = 8;
export const GSS_C_CONF_FLAG = 16;
export const GSS_C_INTEG_FLAG = 32;
/** Supplementary status bits unwrap reports. */
export const GSS_S_DUPLICATE_TOKEN = 1 << 1;
export const GSS_S_OLD_TOKEN = 1 << 2;
export const GSS_S_UNSEQ_TOKEN = 1 << 3;
export const GSS_S_GAP_TOKEN = 1 << 4;

/** From dist/methods/gssapi/kerberos/ (and methods/gssapi/kerberos/) to the package root. */
const ADDON = '../../../../native/kerberos/build/Release/sockskit_gss.node';

let loaded: { gss: NativeGss } | { error: unknown } | undefined;

/**
 * The binding, or KerberosUnavailableError naming what to install.
 * SOCKSKIT_KERBEROS_ADDON names another built sockskit_gss.node (a build kept
 * elsewhere; the specs point it at nothing to see the unavailable path).
 */
export function loadNative(): NativeGss {
  if (!loaded) {
    try {
      loaded = { gss: createRequire(import.meta.url)(process.env.SOCKSKIT_KERBEROS_ADDON || ADDON) as NativeGss };
    } catch (error) {
      loaded = { error };
    }
  }
  if ('error' in loaded) throw new KerberosUnavailableError(loaded.error);
  return loaded.gss;
}

/** Whether the binding is built and loads here. */
export function kerberosAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
