/**
 * The part of SocksAgent's pool key that names a TLS connection's terms.
 * Two requests may share a kept-alive socket only if every option that
 * changes whom the socket authenticates (trust anchors, the client's
 * certificate, the name checked, the check itself) or what it negotiated
 * is the same — the options https.Agent's own getName() lists, plus
 * checkServerIdentity. Values are hashed, never written verbatim: pool keys
 * show in agent.sockets, and keys and passphrases must not.
 */
import { createHash } from 'node:crypto';

/** The TLS options a request may carry, and that the pool key covers. */
export const TLS_KEYS = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized', 'checkServerIdentity',
  'minVersion', 'maxVersion', 'secureProtocol', 'ciphers', 'ecdhCurve', 'sigalgs', 'crl', 'dhparam',
  'honorCipherOrder', 'secureOptions', 'sessionIdContext', 'ALPNProtocols', 'privateKeyIdentifier',
  'privateKeyEngine', 'clientCertEngine', 'session',
] as const;

// Functions and other objects are told apart by identity: the same function
// object gives the same key, another one (even with the same source) a new one.
const ids = new WeakMap<object, number>();
let nextId = 1;
function identity(o: object): string {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return `#${id}`;
}

/** Feeds one option value into the hash, unambiguously (type tag, length, bytes). */
function feed(h: ReturnType<typeof createHash>, v: unknown): void {
  if (v === undefined || v === null) h.update('u;');
  else if (Buffer.isBuffer(v) || v instanceof Uint8Array) h.update(`b${v.byteLength};`).update(v);
  else if (typeof v === 'string') h.update(`s${Buffer.byteLength(v)};`).update(v);
  else if (typeof v === 'number' || typeof v === 'boolean') h.update(`${typeof v}:${String(v)};`);
  else if (Array.isArray(v)) {
    h.update(`a${v.length};`);
    for (const x of v) feed(h, x);
  } else if (typeof v === 'object' && isPlainKeyObject(v)) {
    // { pem, passphrase } / { buf, passphrase } entries of key and pfx arrays.
    const o = v as Record<string, unknown>;
    h.update('o;');
    for (const k of Object.keys(o).sort()) {
      h.update(`k${k};`);
      feed(h, o[k]);
    }
  } else h.update(`i${identity(v as object)};`);
}

function isPlainKeyObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A short digest of the TLS terms in `o` (only TLS_KEYS are read). */
export function tlsPoolKey(o: Record<string, unknown>): string {
  const h = createHash('sha256');
  for (const k of TLS_KEYS) {
    h.update(`${k}=`);
    feed(h, o[k]);
  }
  return h.digest('base64url').slice(0, 32);
}
