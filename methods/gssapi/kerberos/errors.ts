/** Errors of the Kerberos mechanism: the library's own words, the GSS status codes, and what to install. */
import { Method } from '../../../lib/protocol/constants.js';
import { AuthError, SocksError } from '../../../lib/protocol/errors.js';

/** What the native binding throws: an Error with GSS major/minor status (native/kerberos/src/status.c). */
interface NativeGssError extends Error {
  code: 'ERR_GSS';
  major: number;
  minor: number;
  majorMessage: string;
  minorMessage: string;
}

function isNativeGssError(err: unknown): err is NativeGssError {
  return err instanceof Error && (err as { code?: unknown }).code === 'ERR_GSS' && typeof (err as { major?: unknown }).major === 'number';
}

/**
 * A GSS-API call failed (no ticket, an expired one, a keytab without the
 * service key, a tampered token...). `major`/`minor` are the GSS and
 * Kerberos status codes, the message is gss_display_status's.
 */
export class KerberosError extends AuthError {
  readonly major: number;
  readonly minor: number;
  constructor(message: string, major: number, minor: number, options?: { cause?: unknown }) {
    super(message, Method.GssApi, options);
    this.major = major;
    this.minor = minor;
  }

  static from(err: unknown, what = 'Kerberos'): SocksError {
    if (err instanceof SocksError) return err;
    if (isNativeGssError(err)) return new KerberosError(`${what}: ${err.message}`, err.major, err.minor, { cause: err });
    return new AuthError(`${what}: ${err instanceof Error ? err.message : String(err)}`, Method.GssApi, { cause: err });
  }
}

/** The native binding is not built (or cannot load): says what to install. */
export class KerberosUnavailableError extends SocksError {
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(
      'ERR_SOCKS_KERBEROS_UNAVAILABLE',
      'Kerberos (GSS-API) support is not built: install libkrb5-dev (MIT Kerberos headers), a C compiler (gcc or clang, make) ' +
        `and python3, then run \`npm run build:kerberos\` in the sockskit package (${why})`,
      undefined,
      { cause },
    );
  }
}
