/**
 * binauth: stateless Ed25519 challenge/token authentication, byte-compatible
 * with ExodusMovement/binauth v1.3.0 and its official test vectors
 * (see docs/binauth.md and spec/fixtures/README.md).
 *
 * Challenges and tokens have the same 101-byte shape:
 *
 *   +-----------+------+------------------+----------------------+
 *   | serverSig | TYPE | clientPublicKey  | issuedAt (uint32 BE, |
 *   |   (64)    | (1)  |      (32)        |  Unix seconds) (4)   |
 *   +-----------+------+------------------+----------------------+
 *   TYPE 01 = challenge, 02 = token; serverSig signs bytes [64..101).
 *
 * The client's signed challenge is
 *
 *   +-----------+--------------------------+----------------+
 *   | clientSig | serverId (UTF-8, opt.)   | challenge(101) |
 *   |   (64)    | no length, no separator  |                |
 *   +-----------+--------------------------+----------------+
 *   clientSig signs serverId || challenge.
 *
 * Signatures are libsodium "combined" messages: sig(64) || message, pure
 * Ed25519 (RFC 8032), computed with node:crypto by wrapping raw keys in
 * PKCS#8 / SPKI DER. Nothing is stored: any server instance holding the same
 * key pair validates the challenges and tokens of any other.
 *
 * Errors: BinauthError with statusCode 400 (bad request) or 401
 * (unauthorized), in exactly the validation order of upstream, with the
 * upstream message substrings. One deliberate difference: upstream throws a
 * plain Error (no statusCode, "internal error") when an argument has the
 * wrong type or length (a non-Buffer, a public key that is not 32 bytes);
 * here those are BinauthErrors with statusCode 400, because they are caused
 * by the request, not by the server.
 */
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, randomBytes, timingSafeEqual, KeyObject } from 'node:crypto';
import { AuthError, LocalProtocolError } from '../../lib/protocol/errors.js';

export const BINAUTH_TYPE_CHALLENGE = 0x01;
export const BINAUTH_TYPE_TOKEN = 0x02;
/** Length of a challenge and of a token. */
export const BINAUTH_TOKEN_LENGTH = 101;
/** Length of a signed challenge without serverId prefix. */
export const BINAUTH_SIGNED_CHALLENGE_LENGTH = 64 + BINAUTH_TOKEN_LENGTH;
export const BINAUTH_DEFAULT_CHALLENGE_TTL = 60 * 1000; // 1 minute (upstream README wrongly says 1 hour)
export const BINAUTH_DEFAULT_TOKEN_TTL = 24 * 60 * 60 * 1000; // 1 day

const SIG = 64;
const BODY = 37; // TYPE(1) + publicKey(32) + time(4)

/** A binauth failure: statusCode 400 (bad request) or 401 (unauthorized). */
export class BinauthError extends AuthError {
  readonly statusCode: 400 | 401;
  constructor(statusCode: 400 | 401, message: string, options?: { cause?: unknown }) {
    super(message, undefined, options);
    this.statusCode = statusCode;
  }
}

export interface BinauthOptions {
  /** Raw 32-byte Ed25519 public key. Optional: derived from the private key when absent. */
  serverPublicKey?: Buffer;
  /** Raw Ed25519 private key: the 32-byte seed, or upstream's 64-byte seed || publicKey. */
  serverPrivateKey: Buffer;
  /** Optional id a client may prefix before signing a challenge (UTF-8). Default ''. */
  serverId?: string;
  /** Milliseconds a challenge stays valid (positive integer). Default 60 000. */
  challengeTTL?: number;
  /** Milliseconds a token stays valid (positive integer). Default 86 400 000. */
  tokenTTL?: number;
  /** Clock in milliseconds. Default Date.now. */
  now?: () => number;
}

export interface Binauth {
  readonly serverPublicKey: Buffer;
  readonly serverId: string;
  readonly challengeTTL: number;
  readonly tokenTTL: number;
  /** A fresh 101-byte challenge for the client key. */
  getChallenge(publicKey: Buffer): Buffer;
  /** Checks a signed challenge and returns a 101-byte token. Throws BinauthError. */
  getToken(publicKey: Buffer, signedChallenge: Buffer): Buffer;
  /** Checks a token and returns the client public key (32 bytes). Throws BinauthError. */
  verifyToken(token: Buffer): Buffer;
}

// ------------------------------------------------------------ Ed25519 helpers

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function seedOf(privateKey: Buffer, what: string): Buffer {
  if (!Buffer.isBuffer(privateKey) || (privateKey.length !== 32 && privateKey.length !== 64)) {
    throw new LocalProtocolError(`${what} must be a Buffer of 32 bytes (seed) or 64 bytes (seed || public key)`);
  }
  return privateKey.subarray(0, 32);
}

function privateKeyObject(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

/** The raw 32-byte public key of a 32-byte seed (or 64-byte seed || public key). */
export function binauthPublicKey(privateKey: Buffer): Buffer {
  return rawPublicKey(privateKeyObject(seedOf(privateKey, 'private key')));
}

/** A new key pair: `privateKey` is the 32-byte seed, `publicKey` the raw 32-byte key. */
export function generateBinauthKeyPair(): { privateKey: Buffer; publicKey: Buffer } {
  const privateKey = randomBytes(32);
  return { privateKey, publicKey: binauthPublicKey(privateKey) };
}

/** Combined-mode signature: sig(64) || message. */
function signCombined(message: Buffer, key: KeyObject): Buffer {
  return Buffer.concat([edSign(null, message, key), message]);
}

/**
 * Opens a combined-mode signed message (sig(64) || message) and returns a copy
 * of the message. Error texts are those of @exodus/crypto's signOpen, which
 * the official vectors match.
 */
function signOpen(signed: Buffer, publicKey: Buffer | KeyObject): Buffer {
  if (!(publicKey instanceof KeyObject) && publicKey.length !== 32) throw new Error('Expected an Uint8Array of size 32');
  if (signed.length < SIG) throw new Error('Expected an Uint8Array of size 64');
  const message = Buffer.from(signed.subarray(SIG));
  let ok = false;
  try {
    const key = publicKey instanceof KeyObject ? publicKey : publicKeyObject(publicKey);
    ok = edVerify(null, message, key, signed.subarray(0, SIG));
  } catch {
    ok = false;
  }
  if (!ok) throw new Error('incorrect signature for the given public key');
  return message;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isPositiveInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

// ------------------------------------------------------------ bintoken body

interface Bintoken {
  type: number;
  publicKey: Buffer;
  /** Milliseconds, always a multiple of 1000. */
  time: number;
}

function encodeBintoken(type: number, publicKey: Buffer, nowMs: number): Buffer {
  const seconds = Math.floor(nowMs / 1000);
  if (!(seconds > 0 && seconds <= 0xffffffff)) throw new LocalProtocolError(`invalid time: the clock reads ${nowMs} ms`);
  const out = Buffer.alloc(BODY);
  out[0] = type;
  publicKey.copy(out, 1);
  out.writeUInt32BE(seconds, 33);
  return out;
}

function decodeBintoken(buf: Buffer): Bintoken {
  if (buf.length !== BODY) throw new Error('invalid bintoken length');
  const time = buf.readUInt32BE(33) * 1000;
  if (!(time > 0)) throw new Error('invalid time');
  return { type: buf[0]!, publicKey: buf.subarray(1, 33), time };
}

/**
 * Reads the fields of a 101-byte challenge or token WITHOUT checking any
 * signature (for clients: "is this challenge for my key?", "when was this
 * token issued?"). Returns undefined when the shape is wrong.
 */
export function inspectBinauthToken(buf: Buffer): { type: number; publicKey: Buffer; issuedAt: number } | undefined {
  if (!Buffer.isBuffer(buf) || buf.length !== BINAUTH_TOKEN_LENGTH) return undefined;
  try {
    const b = decodeBintoken(buf.subarray(SIG));
    return { type: b.type, publicKey: Buffer.from(b.publicKey), issuedAt: b.time };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------ server

/** The server's settings, validated once: what createBinauth works from. */
interface BinauthSettings {
  serverIdText: string;
  serverId: Buffer;
  challengeTTL: number;
  tokenTTL: number;
  now: () => number;
  privKey: KeyObject;
  pubKey: KeyObject;
  serverPublicKey: Buffer;
}

function binauthSettings(options: BinauthOptions): BinauthSettings {
  if (!options || typeof options !== 'object') throw new LocalProtocolError('createBinauth needs options');
  const serverIdText = options.serverId ?? '';
  if (typeof serverIdText !== 'string') throw new LocalProtocolError('serverId must be a string');
  const challengeTTL = options.challengeTTL ?? BINAUTH_DEFAULT_CHALLENGE_TTL;
  const tokenTTL = options.tokenTTL ?? BINAUTH_DEFAULT_TOKEN_TTL;
  if (!isPositiveInteger(challengeTTL)) throw new LocalProtocolError('challengeTTL must be a positive integer (milliseconds)');
  if (!isPositiveInteger(tokenTTL)) throw new LocalProtocolError('tokenTTL must be a positive integer (milliseconds)');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new LocalProtocolError('now must be a function returning milliseconds');

  const seed = seedOf(options.serverPrivateKey, 'serverPrivateKey');
  const privKey = privateKeyObject(seed);
  const derived = rawPublicKey(privKey);
  // Stricter than upstream, which checks neither: a mismatched pair would
  // issue tokens that no server, this one included, could verify.
  if (options.serverPublicKey !== undefined) {
    const given = options.serverPublicKey;
    if (!Buffer.isBuffer(given) || given.length !== 32 || !given.equals(derived)) {
      throw new LocalProtocolError('serverPublicKey does not belong to serverPrivateKey');
    }
  }
  if (options.serverPrivateKey.length === 64 && !options.serverPrivateKey.subarray(32).equals(derived)) {
    throw new LocalProtocolError('the second half of the 64-byte serverPrivateKey is not its public key');
  }
  return {
    serverIdText,
    serverId: Buffer.from(serverIdText, 'utf8'),
    challengeTTL,
    tokenTTL,
    now,
    privKey,
    pubKey: publicKeyObject(derived),
    serverPublicKey: derived,
  };
}

function checkPublicKey(publicKey: unknown): Buffer {
  if (!Buffer.isBuffer(publicKey) || publicKey.length !== 32) {
    throw new BinauthError(400, 'invalid public key, expected Buffer<32>');
  }
  return publicKey;
}

/** The challenge inside clientSig || [serverId] || serverSigned(challenge): both signatures checked. */
function openSignedChallenge(s: BinauthSettings, signedChallenge: Buffer, publicKey: Buffer): Buffer {
  try {
    let challengeBuf = signOpen(signedChallenge, publicKey);
    if (challengeBuf.subarray(0, s.serverId.length).equals(s.serverId)) challengeBuf = challengeBuf.subarray(s.serverId.length);
    return signOpen(challengeBuf, s.pubKey);
  } catch (err) {
    throw new BinauthError(401, `challenge failed signature validation: ${messageOf(err)}`, { cause: err });
  }
}

/** A challenge this server issued to `publicKey`, not from the future, not expired. */
function checkChallenge(s: BinauthSettings, challengeBuf: Buffer, publicKey: Buffer): void {
  const t = s.now();
  try {
    const challenge = decodeBintoken(challengeBuf);
    if (challenge.type !== BINAUTH_TYPE_CHALLENGE) throw new Error('incorrect bintoken type');
    if (!timingSafeEqual(challenge.publicKey, publicKey)) throw new Error('incorrect public key');
    if (!(challenge.time <= t)) throw new Error('challenge timestamped in the future');
    if (!(challenge.time + s.challengeTTL >= t)) {
      throw new BinauthError(401, 'challenge expired');
    }
  } catch (err) {
    if (err instanceof BinauthError) throw err;
    throw new BinauthError(400, `challenge failed validation: ${messageOf(err)}`, { cause: err });
  }
}

/** The client key a valid token names. */
function verifyBinauthToken(s: BinauthSettings, token: Buffer): Buffer {
  if (!Buffer.isBuffer(token)) throw new BinauthError(400, 'invalid auth token, expected Buffer');
  let opened: Buffer;
  try {
    opened = signOpen(token, s.pubKey);
  } catch (err) {
    throw new BinauthError(401, `token failed signature validation: ${messageOf(err)}`, { cause: err });
  }
  let parsed: Bintoken;
  try {
    parsed = decodeBintoken(opened);
  } catch (err) {
    throw new BinauthError(401, `token failed to parse: ${messageOf(err)}`, { cause: err });
  }
  const t = s.now();
  // Upstream order: expiry before type, so an old challenge reads "expired".
  if (!(parsed.time + s.tokenTTL >= t)) throw new BinauthError(401, 'auth token expired');
  if (parsed.type !== BINAUTH_TYPE_TOKEN) throw new BinauthError(401, 'token failed security checks: incorrect bintoken type');
  if (!(parsed.time <= t)) throw new BinauthError(401, 'token failed security checks: auth token timestamped in the future');
  return Buffer.from(parsed.publicKey);
}

export function createBinauth(options: BinauthOptions): Binauth {
  const s = binauthSettings(options);
  const issue = (type: number, publicKey: Buffer): Buffer => signCombined(encodeBintoken(type, publicKey, s.now()), s.privKey);

  return {
    serverPublicKey: Buffer.from(s.serverPublicKey),
    serverId: s.serverIdText,
    challengeTTL: s.challengeTTL,
    tokenTTL: s.tokenTTL,

    getChallenge(publicKey: Buffer): Buffer {
      return issue(BINAUTH_TYPE_CHALLENGE, checkPublicKey(publicKey));
    },

    getToken(publicKey: Buffer, signedChallenge: Buffer): Buffer {
      checkPublicKey(publicKey);
      if (!Buffer.isBuffer(signedChallenge)) throw new BinauthError(400, 'invalid signed challenge, expected Buffer');
      checkChallenge(s, openSignedChallenge(s, signedChallenge, publicKey), publicKey);
      return issue(BINAUTH_TYPE_TOKEN, publicKey);
    },

    verifyToken(token: Buffer): Buffer {
      return verifyBinauthToken(s, token);
    },
  };
}

// ------------------------------------------------------------ client

/**
 * Client side: signs a challenge with the client's private key (32-byte seed
 * or 64-byte seed || public key), optionally prefixing the server's id so the
 * signature is only valid for that server. Returns
 * clientSig(64) || serverId || challenge.
 */
export function signBinauthChallenge(challenge: Buffer, privateKey: Buffer, serverId?: string): Buffer {
  if (!Buffer.isBuffer(challenge)) throw new LocalProtocolError('challenge must be a Buffer');
  const key = privateKeyObject(seedOf(privateKey, 'privateKey'));
  const prefix = serverId ? Buffer.from(serverId, 'utf8') : Buffer.alloc(0);
  return signCombined(Buffer.concat([prefix, challenge]), key);
}
