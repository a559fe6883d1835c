/**
 * A shared-key TEST mechanism for the GSS-API method (RFC 1961).
 *
 * THIS IS NOT KERBEROS and not a standard GSS-API mechanism: nothing else
 * speaks it. It exists so the RFC 1961 framing, protection negotiation and
 * per-message encapsulation can be exercised end to end (sockskit-proxy
 * --gssapi-psk / sockskit-connect --gssapi-psk) without a KDC. Both sides hold
 * the same pre-shared key (PSK, at least 16 bytes, high entropy: it is not a
 * password and is not stretched).
 *
 * Context establishment (three tokens, then the server's empty token):
 *
 *   C → S  T1 = "SKP1" | Nc(32) | NLEN(1) | NAME       client nonce, announced name
 *   S → C  T2 = "SKP2" | Ns(32) | MACs(32)             server proves the key
 *   C → S  T3 = "SKP3" | MACc(32)                      client proves the key
 *   S → C  (RFC 1961 zero-length token: 01 01 00 00)
 *
 *   keys  = HKDF-SHA256(ikm = PSK, salt = Nc | Ns, info = "sockskit gssapi-psk v1", 160)
 *         = Kconfirm | Kc2s.enc | Kc2s.mac | Ks2c.enc | Ks2c.mac          (32 bytes each)
 *   H     = SHA-256(T1 | "SKP2" | Ns)
 *   MACs  = HMAC-SHA256(Kconfirm, "server finished" | H)
 *   MACc  = HMAC-SHA256(Kconfirm, "client finished" | H)
 *
 * Both nonces are fresh per connection, so neither MAC can be replayed into
 * another session, and the two labels stop reflection. MACs are compared in
 * constant time. The client checks MACs before it sends MACc (mutual
 * authentication). The server's identity for the client is the announced
 * NAME (default 'psk'); it is bound into H but is only as trustworthy as the
 * key: everyone holding the key can announce any name.
 *
 * Per-message tokens (gss_wrap), per direction:
 *
 *   FLAGS(1) | SEQ(8, BE) | BODY
 *   FLAGS bit 0: confidential, bit 1: datagram; other bits must be 0.
 *   confidential: BODY = AES-256-GCM(K.enc, IV = CHANNEL(4) | SEQ(8), AAD = FLAGS | SEQ) ciphertext | tag(16)
 *   integrity:    BODY = DATA | HMAC-SHA256(K.mac, FLAGS | SEQ | DATA)
 *
 * Stream tokens must carry exactly the next sequence number: a replayed,
 * reordered, dropped or tampered token throws RemoteProtocolError
 * ERR_SOCKS_ENCAPSULATION, and the receiving direction stays failed after
 * that. Datagram tokens have their own sequence space and a 64-entry
 * anti-replay window (they may arrive out of order, never twice).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import createDebug from 'debug';
import { Method } from '../../lib/protocol/constants.js';
import { AuthError, LocalProtocolError, RemoteProtocolError } from '../../lib/protocol/errors.js';
import type { GssAcceptorContext, GssInitiatorContext, GssMechanism, GssStep, GssWrapOptions } from './mechanism.js';

const debug = createDebug('sockskit:method:gssapi-psk');

/** Bytes of key material at least: the exchange lets an observer test guesses offline, so no password will do. */
export const PSK_MIN_KEY = 32;
const NONCE = 32;
const MAC = 32;
const TAG = 16;
const HEADER = 9;
const FLAG_CONF = 0x01;
const FLAG_DGRAM = 0x02;
const WINDOW = 64;
const INFO = Buffer.from('sockskit gssapi-psk v1');
const M1 = Buffer.from('SKP1');
const M2 = Buffer.from('SKP2');
const M3 = Buffer.from('SKP3');

export interface PskMechanismOptions {
  /** The pre-shared key, at least 32 bytes of key material. Never logged. */
  key: Buffer;
  /** Client: the principal name announced to the server (default 'psk'), at most 255 bytes. */
  name?: string;
  /** Source of nonces; tests pass a deterministic one. Default crypto.randomBytes. */
  random?: (n: number) => Buffer;
}

/**
 * Key file contents: hex (only hex digits, even count, surrounding whitespace
 * ignored) or raw binary bytes. Either way at least PSK_MIN_KEY (32) bytes of
 * key material, which `sockskit-keys psk FILE` (or `openssl rand -hex 32`)
 * makes. Raw contents that are all printable text are a passphrase, not a
 * key, and are refused: the exchange lets an observer test guesses offline.
 */
export function parsePskKey(contents: Buffer): Buffer {
  const text = contents.toString('latin1').trim();
  const isHex = text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text);
  if (!isHex && /^[\x20-\x7e\t\r\n]*$/.test(contents.toString('latin1'))) {
    throw new LocalProtocolError('GSS-API PSK file holds text, not key material (a passphrase can be guessed offline): use hex from sockskit-keys psk FILE');
  }
  const key = isHex ? Buffer.from(text, 'hex') : Buffer.from(contents);
  if (key.length < PSK_MIN_KEY) throw new LocalProtocolError(`GSS-API PSK must be at least ${PSK_MIN_KEY} bytes (got ${key.length}); make one with sockskit-keys psk FILE`);
  return key;
}

/** Reads a key file (see parsePskKey). */
export function loadPskKey(path: string): Buffer {
  return parsePskKey(readFileSync(path));
}

function encapError(message: string): RemoteProtocolError {
  return new RemoteProtocolError(`GSS-API encapsulation: ${message}`, { code: 'ERR_SOCKS_ENCAPSULATION' });
}

function malformed(what: string): RemoteProtocolError {
  return new RemoteProtocolError(`GSS-API psk: malformed ${what}`, { code: 'ERR_SOCKS_PROTOCOL' });
}

interface DirectionKeys {
  enc: Buffer;
  mac: Buffer;
}

/** One direction's sending or receiving state. */
class Direction {
  seq = 0;
  dgramSeq = 0;
  /** Datagram anti-replay: highest seen, and which of the last WINDOW were seen. */
  dgramHigh = -1;
  dgramSeen = new Set<number>();
  failed = false;
  constructor(readonly keys: DirectionKeys) {}
}

function seqHeader(flags: number, seq: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER);
  h[0] = flags;
  h.writeBigUInt64BE(BigInt(seq), 1);
  return h;
}

function gcmIv(channel: number, seq: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(channel, 0);
  iv.writeBigUInt64BE(BigInt(seq), 4);
  return iv;
}

/** The per-message half shared by initiator and acceptor. */
abstract class PskContext {
  protected send: Direction | undefined;
  protected recv: Direction | undefined;
  peerName: string | undefined;

  wrap(data: Buffer, confidential: boolean, options: GssWrapOptions = {}): Buffer {
    const d = this.send;
    if (!d) throw new LocalProtocolError('GSS-API psk: wrap before the context is established');
    const dgram = options.datagram === true;
    const seq = dgram ? d.dgramSeq++ : d.seq++;
    const flags = (confidential ? FLAG_CONF : 0) | (dgram ? FLAG_DGRAM : 0);
    const header = seqHeader(flags, seq);
    if (confidential) {
      const c = createCipheriv('aes-256-gcm', d.keys.enc, gcmIv(dgram ? 1 : 0, seq));
      c.setAAD(header);
      const body = c.update(data);
      const fin = c.final();
      return Buffer.concat([header, body, fin, c.getAuthTag()]);
    }
    const mac = createHmac('sha256', d.keys.mac).update(header).update(data).digest();
    return Buffer.concat([header, data, mac]);
  }

  unwrap(token: Buffer, options: GssWrapOptions = {}): { data: Buffer; confidential: boolean } {
    const d = this.recv;
    if (!d) throw new LocalProtocolError('GSS-API psk: unwrap before the context is established');
    if (d.failed) throw encapError('the stream already failed');
    try {
      return this.unwrapChecked(d, token, options.datagram === true);
    } catch (err) {
      // A stream that failed once is never trusted again; a bad datagram is just dropped.
      if (options.datagram !== true) d.failed = true;
      throw err;
    }
  }

  private unwrapChecked(d: Direction, token: Buffer, dgram: boolean): { data: Buffer; confidential: boolean } {
    if (token.length < HEADER) throw encapError(`truncated token (${token.length} bytes)`);
    const flags = token[0]!;
    if ((flags & ~(FLAG_CONF | FLAG_DGRAM)) !== 0) throw encapError(`unknown token flags 0x${flags.toString(16)}`);
    if (((flags & FLAG_DGRAM) !== 0) !== dgram) throw encapError(dgram ? 'stream token in a datagram' : 'datagram token in the stream');
    const confidential = (flags & FLAG_CONF) !== 0;
    const seqBig = token.readBigUInt64BE(1);
    if (seqBig > BigInt(Number.MAX_SAFE_INTEGER)) throw encapError('sequence number out of range');
    const seq = Number(seqBig);
    const header = token.subarray(0, HEADER);
    let data: Buffer;
    if (confidential) {
      if (token.length < HEADER + TAG) throw encapError('truncated token');
      const dc = createDecipheriv('aes-256-gcm', d.keys.enc, gcmIv(dgram ? 1 : 0, seq));
      dc.setAAD(header);
      dc.setAuthTag(token.subarray(token.length - TAG));
      const body = dc.update(token.subarray(HEADER, token.length - TAG));
      try {
        data = Buffer.concat([body, dc.final()]);
      } catch {
        throw encapError('token failed authentication (tampered or truncated)');
      }
    } else {
      if (token.length < HEADER + MAC) throw encapError('truncated token');
      data = token.subarray(HEADER, token.length - MAC);
      const mac = createHmac('sha256', d.keys.mac).update(header).update(data).digest();
      if (!timingSafeEqual(mac, token.subarray(token.length - MAC))) throw encapError('token failed integrity check (tampered or truncated)');
      data = Buffer.from(data);
    }
    if (!dgram) {
      if (seq !== d.seq) throw encapError(seq < d.seq ? `replayed token (sequence ${seq}, expected ${d.seq})` : `token out of order (sequence ${seq}, expected ${d.seq}: one was dropped)`);
      d.seq++;
    } else {
      if (seq <= d.dgramHigh - WINDOW || d.dgramSeen.has(seq)) throw encapError(`replayed datagram (sequence ${seq})`);
      d.dgramSeen.add(seq);
      if (seq > d.dgramHigh) {
        d.dgramHigh = seq;
        for (const s of d.dgramSeen) if (s <= seq - WINDOW) d.dgramSeen.delete(s);
      }
    }
    return { data, confidential };
  }

  wrapSizeLimit(maxToken: number, confidential: boolean): number {
    return Math.max(0, maxToken - HEADER - (confidential ? TAG : MAC));
  }

  /** Derives the session keys once both nonces are known. */
  protected derive(psk: Buffer, cnonce: Buffer, snonce: Buffer, initiator: boolean): Buffer {
    const okm = Buffer.from(hkdfSync('sha256', psk, Buffer.concat([cnonce, snonce]), INFO, 160));
    const confirm = okm.subarray(0, 32);
    const c2s = { enc: okm.subarray(32, 64), mac: okm.subarray(64, 96) };
    const s2c = { enc: okm.subarray(96, 128), mac: okm.subarray(128, 160) };
    this.pending = initiator ? [new Direction(c2s), new Direction(s2c)] : [new Direction(s2c), new Direction(c2s)];
    return confirm;
  }

  /** Directions derived but not yet usable (before the peer proved the key). */
  protected pending: [Direction, Direction] | undefined;

  protected activate(): void {
    [this.send, this.recv] = this.pending!;
    this.pending = undefined;
  }
}

function transcriptHash(t1: Buffer, snonce: Buffer): Buffer {
  return createHash('sha256').update(t1).update(M2).update(snonce).digest();
}

function finished(confirm: Buffer, label: string, h: Buffer): Buffer {
  return createHmac('sha256', confirm).update(label).update(h).digest();
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length < PSK_MIN_KEY) throw new LocalProtocolError(`GSS-API PSK must be a Buffer of at least ${PSK_MIN_KEY} bytes`);
}

class PskInitiator extends PskContext implements GssInitiatorContext {
  private state: 'start' | 'sent1' | 'done' = 'start';
  private t1: Buffer | undefined;
  private cnonce: Buffer | undefined;
  constructor(private readonly key: Buffer, private readonly name: string, private readonly random: (n: number) => Buffer) {
    super();
  }

  initSecContext(token?: Buffer): GssStep {
    switch (this.state) {
      case 'start': {
        if (token && token.length) throw new LocalProtocolError('GSS-API psk: the first initSecContext takes no token');
        const name = Buffer.from(this.name, 'utf8');
        if (name.length > 255) throw new LocalProtocolError('GSS-API psk: name longer than 255 bytes');
        this.cnonce = this.random(NONCE);
        this.t1 = Buffer.concat([M1, this.cnonce, Buffer.from([name.length]), name]);
        this.state = 'sent1';
        return { token: this.t1, complete: false };
      }
      case 'sent1': {
        if (!token || token.length !== M2.length + NONCE + MAC || !token.subarray(0, 4).equals(M2)) throw malformed('server token');
        const snonce = token.subarray(4, 4 + NONCE);
        const confirm = this.derive(this.key, this.cnonce!, snonce, true);
        const h = transcriptHash(this.t1!, snonce);
        if (!timingSafeEqual(finished(confirm, 'server finished', h), token.subarray(4 + NONCE))) {
          debug('server proof did not verify');
          throw new AuthError('GSS-API psk: the server does not hold the same key', Method.GssApi);
        }
        this.peerName = this.name;
        this.activate();
        this.state = 'done';
        return { token: Buffer.concat([M3, finished(confirm, 'client finished', h)]), complete: true };
      }
      case 'done':
        throw malformed('extra token after the context was established');
    }
  }
}

class PskAcceptor extends PskContext implements GssAcceptorContext {
  private state: 'start' | 'sent2' | 'done' = 'start';
  private confirm: Buffer | undefined;
  private h: Buffer | undefined;
  private name: string | undefined;
  constructor(private readonly key: Buffer, private readonly random: (n: number) => Buffer) {
    super();
  }

  acceptSecContext(token: Buffer): GssStep {
    switch (this.state) {
      case 'start': {
        if (token.length < 4 + NONCE + 1 || !token.subarray(0, 4).equals(M1)) throw malformed('client token');
        const nlen = token[4 + NONCE]!;
        if (token.length !== 4 + NONCE + 1 + nlen) throw malformed('client token');
        const cnonce = token.subarray(4, 4 + NONCE);
        this.name = token.toString('utf8', 4 + NONCE + 1) || 'psk';
        const snonce = this.random(NONCE);
        this.confirm = this.derive(this.key, cnonce, snonce, false);
        this.h = transcriptHash(token, snonce);
        this.state = 'sent2';
        return { token: Buffer.concat([M2, snonce, finished(this.confirm, 'server finished', this.h)]), complete: false };
      }
      case 'sent2': {
        if (token.length !== 4 + MAC || !token.subarray(0, 4).equals(M3)) throw malformed('client proof');
        if (!timingSafeEqual(finished(this.confirm!, 'client finished', this.h!), token.subarray(4))) {
          debug('client proof did not verify');
          throw new AuthError('GSS-API psk: the client does not hold the same key', Method.GssApi);
        }
        this.peerName = this.name;
        this.activate();
        this.state = 'done';
        return { complete: true };
      }
      case 'done':
        throw malformed('extra token after the context was established');
    }
  }
}

/** The shared-key test mechanism (see the file comment). */
export function pskMechanism(options: PskMechanismOptions): GssMechanism {
  checkKey(options.key);
  const key = Buffer.from(options.key);
  const random = options.random ?? randomBytes;
  const name = options.name ?? 'psk';
  return {
    name: 'psk-test',
    initiator: () => new PskInitiator(key, name, random),
    acceptor: () => new PskAcceptor(key, random),
  };
}
