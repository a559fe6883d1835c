/**
 * binauth crypto core: the official vectors (spec/fixtures/binauth-test-vectors.json),
 * the cross-server attack, expiry with an injected clock, statelessness across instances.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  createBinauth,
  signBinauthChallenge,
  binauthPublicKey,
  generateBinauthKeyPair,
  inspectBinauthToken,
  BinauthError,
  BINAUTH_DEFAULT_CHALLENGE_TTL,
  BINAUTH_DEFAULT_TOKEN_TTL,
} from '../../methods/binauth/core.js';
import { AuthError, SocksError } from '../../lib/protocol/errors.js';
import * as sockskit from '../../lib/index.js';
import { fixture } from '../support/paths.js';

interface Valid {
  time: number;
  clientPrivateKey: string;
  clientPublicKey: string;
  serverPrivateKey: string;
  serverPublicKey: string;
  challenge: string;
  signedChallenge: string;
  token: string;
  serverId?: string;
}
interface InvalidSigned {
  comment: string;
  error: string;
  time: number;
  clientPublicKey: string;
  serverPrivateKey: string;
  serverPublicKey: string;
  signedChallenge: string;
  challengeTTL?: number;
  serverId?: string;
}
interface InvalidToken {
  comment: string;
  error: string;
  time: number;
  clientPublicKey: string;
  serverPrivateKey: string;
  serverPublicKey: string;
  token: string;
  tokenTTL?: number;
}

const vectors = JSON.parse(readFileSync(fixture('binauth-test-vectors.json'), 'utf8')) as {
  valid: Valid[];
  invalidSignedChallenges: InvalidSigned[];
  invalidTokens: InvalidToken[];
};

const h = (s: string) => Buffer.from(s, 'hex');
const b64 = (s: string) => Buffer.from(s, 'base64');

/** The status each upstream error class implies (docs/binauth.md, validation order). */
function expectedStatus(kind: 'getToken' | 'verifyToken', error: string): 400 | 401 {
  if (kind === 'verifyToken') return 401;
  if (/incorrect signature|Expected an Uint8Array|signedMessage is too short|challenge expired/.test(error)) return 401;
  if (/incorrect bintoken type|incorrect public key|timestamped in the future|invalid bintoken length|invalid time/.test(error)) return 400;
  throw new Error(`unclassified vector error ${error}`);
}

function catchErr(fn: () => unknown): BinauthError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BinauthError);
    return err as BinauthError;
  }
  throw new Error('expected a BinauthError, nothing was thrown');
}

describe('binauth: official vectors', () => {
  it('has the expected number of vectors', () => {
    expect(vectors.valid).to.have.length(4);
    expect(vectors.invalidSignedChallenges).to.have.length(9);
    expect(vectors.invalidTokens).to.have.length(5);
  });

  vectors.valid.forEach((v, i) => {
    it(`valid[${i}] (time ${v.time}${v.serverId ? `, serverId ${v.serverId}` : ''}) byte for byte`, () => {
      const clientPub = h(v.clientPublicKey);
      expect(binauthPublicKey(h(v.clientPrivateKey))).to.deep.equal(clientPub);
      const auth = createBinauth({
        serverPrivateKey: h(v.serverPrivateKey),
        serverPublicKey: h(v.serverPublicKey),
        serverId: v.serverId,
        now: () => v.time,
      });
      const challenge = auth.getChallenge(clientPub);
      expect(challenge.toString('base64')).to.equal(v.challenge);
      // The client signs with the 64-byte form and with the bare 32-byte seed: same bytes.
      const signed = signBinauthChallenge(challenge, h(v.clientPrivateKey), v.serverId);
      expect(signed.toString('base64')).to.equal(v.signedChallenge);
      expect(signBinauthChallenge(challenge, h(v.clientPrivateKey).subarray(0, 32), v.serverId)).to.deep.equal(signed);
      const token = auth.getToken(clientPub, signed);
      expect(token.toString('base64')).to.equal(v.token);
      expect(auth.verifyToken(token)).to.deep.equal(clientPub);
      // The server derives its public key when only the seed is given.
      const auth2 = createBinauth({ serverPrivateKey: h(v.serverPrivateKey).subarray(0, 32), serverId: v.serverId, now: () => v.time });
      expect(auth2.serverPublicKey).to.deep.equal(h(v.serverPublicKey));
      expect(auth2.getToken(clientPub, b64(v.signedChallenge))).to.deep.equal(b64(v.token));
    });
  });

  vectors.invalidSignedChallenges.forEach((v, i) => {
    it(`invalidSignedChallenges[${i}]: ${v.comment}`, () => {
      const auth = createBinauth({
        serverPrivateKey: h(v.serverPrivateKey),
        serverPublicKey: h(v.serverPublicKey),
        serverId: v.serverId,
        challengeTTL: v.challengeTTL,
        now: () => v.time,
      });
      const err = catchErr(() => auth.getToken(h(v.clientPublicKey), b64(v.signedChallenge)));
      expect(err.message).to.match(new RegExp(v.error));
      expect(err.statusCode).to.equal(expectedStatus('getToken', v.error));
    });
  });

  vectors.invalidTokens.forEach((v, i) => {
    it(`invalidTokens[${i}]: ${v.comment}`, () => {
      const auth = createBinauth({
        serverPrivateKey: h(v.serverPrivateKey),
        serverPublicKey: h(v.serverPublicKey),
        tokenTTL: v.tokenTTL,
        now: () => v.time,
      });
      const err = catchErr(() => auth.verifyToken(b64(v.token)));
      expect(err.message).to.match(new RegExp(v.error));
      expect(err.statusCode).to.equal(401);
    });
  });
});

describe('binauth: behaviour', () => {
  const server = generateBinauthKeyPair();
  const client = generateBinauthKeyPair();
  const T0 = 1_700_000_000_123;

  it('is exported from sockskit with the error family', () => {
    expect(sockskit.createBinauth).to.equal(createBinauth);
    expect(sockskit.BinauthError).to.equal(BinauthError);
    const e = new BinauthError(401, 'x');
    expect(e).to.be.instanceOf(AuthError).and.instanceOf(SocksError);
    expect(e.code).to.equal('ERR_SOCKS_AUTH_FAILED');
    expect(e.name).to.equal('BinauthError');
  });

  it('defaults: challenge TTL 60 s (not 1 hour), token TTL 1 day', () => {
    const auth = createBinauth({ serverPrivateKey: server.privateKey });
    expect(auth.challengeTTL).to.equal(60_000).and.equal(BINAUTH_DEFAULT_CHALLENGE_TTL);
    expect(auth.tokenTTL).to.equal(86_400_000).and.equal(BINAUTH_DEFAULT_TOKEN_TTL);
  });

  it('uses Date.now by default', () => {
    const auth = createBinauth({ serverPrivateKey: server.privateKey });
    const before = Math.floor(Date.now() / 1000);
    const info = inspectBinauthToken(auth.getChallenge(client.publicKey))!;
    expect(info.issuedAt / 1000).to.be.within(before, before + 2);
  });

  it('rejects bad setup with plain usage errors', () => {
    expect(() => createBinauth({ serverPrivateKey: Buffer.alloc(31) })).to.throw(/serverPrivateKey/);
    expect(() => createBinauth({ serverPrivateKey: server.privateKey, serverPublicKey: client.publicKey })).to.throw(/does not belong/);
    expect(() => createBinauth({ serverPrivateKey: server.privateKey, challengeTTL: 0 })).to.throw(/challengeTTL/);
    expect(() => createBinauth({ serverPrivateKey: server.privateKey, tokenTTL: 1.5 })).to.throw(/tokenTTL/);
    expect(() => createBinauth({ serverPrivateKey: server.privateKey, serverId: 7 as unknown as string })).to.throw(/serverId/);
    expect(() => createBinauth({ serverPrivateKey: Buffer.concat([server.privateKey, client.publicKey]) })).to.throw(/second half/);
  });

  it('input-type errors are 400 (deliberately; upstream has no statusCode)', () => {
    const auth = createBinauth({ serverPrivateKey: server.privateKey });
    const cases: [() => unknown, RegExp][] = [
      [() => auth.getChallenge(Buffer.alloc(31)), /invalid public key, expected Buffer<32>/],
      [() => auth.getChallenge('ab' as unknown as Buffer), /invalid public key/],
      [() => auth.getToken(Buffer.alloc(33), Buffer.alloc(165)), /invalid public key/],
      [() => auth.getToken(client.publicKey, 'x' as unknown as Buffer), /invalid signed challenge, expected Buffer/],
      [() => auth.verifyToken(null as unknown as Buffer), /invalid auth token, expected Buffer/],
    ];
    for (const [fn, re] of cases) {
      const err = catchErr(fn);
      expect(err.statusCode).to.equal(400);
      expect(err.message).to.match(re);
    }
  });

  it('a full round trip; the token carries the issuance time, not the challenge time', () => {
    let t = T0;
    const auth = createBinauth({ serverPrivateKey: server.privateKey, now: () => t });
    const challenge = auth.getChallenge(client.publicKey);
    expect(challenge).to.have.length(101);
    expect(inspectBinauthToken(challenge)).to.deep.equal({ type: 1, publicKey: client.publicKey, issuedAt: Math.floor(T0 / 1000) * 1000 });
    t += 30_000;
    const token = auth.getToken(client.publicKey, signBinauthChallenge(challenge, client.privateKey));
    expect(inspectBinauthToken(token)).to.deep.equal({ type: 2, publicKey: client.publicKey, issuedAt: Math.floor((T0 + 30_000) / 1000) * 1000 });
    expect(auth.verifyToken(token)).to.deep.equal(client.publicKey);
  });

  it('challenge expiry with an injected clock: boundary inclusive, to the second', () => {
    let t = T0;
    const auth = createBinauth({ serverPrivateKey: server.privateKey, now: () => t });
    const challenge = auth.getChallenge(client.publicKey);
    const signed = signBinauthChallenge(challenge, client.privateKey);
    const stamped = Math.floor(T0 / 1000) * 1000;
    t = stamped + 60_000; // exactly issuedAt + TTL: still valid
    expect(() => auth.getToken(client.publicKey, signed)).not.to.throw();
    t = stamped + 60_001;
    const err = catchErr(() => auth.getToken(client.publicKey, signed));
    expect(err.message).to.equal('challenge expired');
    expect(err.statusCode).to.equal(401);
    // A challenge stamped in the future (the clock went backwards): 400.
    t = stamped - 1;
    const future = catchErr(() => auth.getToken(client.publicKey, signed));
    expect(future.statusCode).to.equal(400);
    expect(future.message).to.match(/challenge timestamped in the future/);
  });

  it('token expiry with an injected clock', () => {
    let t = T0;
    const auth = createBinauth({ serverPrivateKey: server.privateKey, tokenTTL: 3_600_000, now: () => t });
    const token = auth.getToken(client.publicKey, signBinauthChallenge(auth.getChallenge(client.publicKey), client.privateKey));
    const stamped = Math.floor(T0 / 1000) * 1000;
    t = stamped + 3_600_000;
    expect(auth.verifyToken(token)).to.deep.equal(client.publicKey);
    t += 1;
    const err = catchErr(() => auth.verifyToken(token));
    expect(err.message).to.equal('auth token expired');
    expect(err.statusCode).to.equal(401);
    t = stamped - 1000;
    expect(catchErr(() => auth.verifyToken(token)).message).to.match(/auth token timestamped in the future/);
  });

  it('a challenge is not a token and a token is not a challenge', () => {
    const t = T0;
    const auth = createBinauth({ serverPrivateKey: server.privateKey, now: () => t });
    const challenge = auth.getChallenge(client.publicKey);
    const e1 = catchErr(() => auth.verifyToken(challenge));
    expect(e1.message).to.match(/incorrect bintoken type/);
    expect(e1.statusCode).to.equal(401);
    const token = auth.getToken(client.publicKey, signBinauthChallenge(challenge, client.privateKey));
    const e2 = catchErr(() => auth.getToken(client.publicKey, signBinauthChallenge(token, client.privateKey)));
    expect(e2.message).to.match(/incorrect bintoken type/);
    expect(e2.statusCode).to.equal(400);
  });

  it('another key cannot use the challenge', () => {
    const auth = createBinauth({ serverPrivateKey: server.privateKey, now: () => T0 });
    const mallory = generateBinauthKeyPair();
    const challenge = auth.getChallenge(client.publicKey);
    // Mallory signs the client's challenge with her own key.
    const e = catchErr(() => auth.getToken(mallory.publicKey, signBinauthChallenge(challenge, mallory.privateKey)));
    expect(e.statusCode).to.equal(400);
    expect(e.message).to.match(/incorrect public key/);
    // Or presents the client's key with her signature.
    const e2 = catchErr(() => auth.getToken(client.publicKey, signBinauthChallenge(challenge, mallory.privateKey)));
    expect(e2.statusCode).to.equal(401);
  });

  it('cross-server attack: a challenge from B signed for A (serverId prefix) is rejected by B', () => {
    // Server A and server B share nothing but the client. The attacker runs
    // B, gets a challenge for the client's key from it, and tricks the client
    // into "authenticating to A"; the client prefixes A's id as it should.
    const keyA = generateBinauthKeyPair();
    const keyB = generateBinauthKeyPair();
    const A = createBinauth({ serverPrivateKey: keyA.privateKey, serverId: 'server-a', now: () => T0 });
    const B = createBinauth({ serverPrivateKey: keyB.privateKey, serverId: 'server-b', now: () => T0 });
    const fromB = B.getChallenge(client.publicKey);
    const signedForA = signBinauthChallenge(fromB, client.privateKey, 'server-a');
    const err = catchErr(() => B.getToken(client.publicKey, signedForA));
    expect(err.statusCode).to.equal(401);
    expect(err.message).to.match(/incorrect signature for the given public key/);
    // The same holds when B shares A's key pair but has its own id.
    const B2 = createBinauth({ serverPrivateKey: keyA.privateKey, serverId: 'server-b', now: () => T0 });
    const fromB2 = B2.getChallenge(client.publicKey);
    expect(() => B2.getToken(client.publicKey, signBinauthChallenge(fromB2, client.privateKey, 'server-a'))).to.throw(BinauthError, /incorrect signature/);
    // A server without an id rejects prefixed signatures too.
    const C = createBinauth({ serverPrivateKey: keyB.privateKey, now: () => T0 });
    expect(() => C.getToken(client.publicKey, signBinauthChallenge(C.getChallenge(client.publicKey), client.privateKey, 'server-b'))).to.throw(BinauthError, /incorrect signature/);
    // Controls: the right prefix and no prefix are accepted by B.
    expect(B.getToken(client.publicKey, signBinauthChallenge(fromB, client.privateKey, 'server-b'))).to.have.length(101);
    expect(B.getToken(client.publicKey, signBinauthChallenge(fromB, client.privateKey))).to.have.length(101);
    // And A refuses B's challenge however it is signed.
    expect(() => A.getToken(client.publicKey, signedForA)).to.throw(BinauthError, /incorrect signature/);
  });

  it('stateless: a token from one instance is accepted by another sharing the server key', () => {
    let t = T0;
    const one = createBinauth({ serverPrivateKey: server.privateKey, now: () => t });
    const two = createBinauth({ serverPrivateKey: Buffer.concat([server.privateKey, server.publicKey]), serverPublicKey: server.publicKey, now: () => t });
    // Challenge from one, token from two, verified by one and two.
    const challenge = one.getChallenge(client.publicKey);
    t += 5_000;
    const token = two.getToken(client.publicKey, signBinauthChallenge(challenge, client.privateKey));
    t += 60 * 60_000;
    expect(one.verifyToken(token)).to.deep.equal(client.publicKey);
    expect(two.verifyToken(token)).to.deep.equal(client.publicKey);
    // A third instance with a different key refuses it.
    const other = createBinauth({ serverPrivateKey: generateBinauthKeyPair().privateKey, now: () => t });
    expect(catchErr(() => other.verifyToken(token)).statusCode).to.equal(401);
  });

  it('tampering anywhere in a token is a 401', () => {
    const auth = createBinauth({ serverPrivateKey: server.privateKey, now: () => T0 });
    const token = auth.getToken(client.publicKey, signBinauthChallenge(auth.getChallenge(client.publicKey), client.privateKey));
    for (let i = 0; i < token.length; i++) {
      const bad = Buffer.from(token);
      bad[i]! ^= 0x01;
      expect(catchErr(() => auth.verifyToken(bad)).statusCode, `byte ${i}`).to.equal(401);
    }
    expect(catchErr(() => auth.verifyToken(token.subarray(0, 63))).message).to.match(/Expected an Uint8Array of size 64/);
    expect(catchErr(() => auth.verifyToken(Buffer.concat([token, Buffer.from([0])]))).statusCode).to.equal(401);
  });

  it('refuses to encode a time before 1970-01-01T00:00:01Z', () => {
    const auth = createBinauth({ serverPrivateKey: server.privateKey, now: () => 999 });
    expect(() => auth.getChallenge(client.publicKey)).to.throw(/invalid time/);
  });

  it('inspectBinauthToken returns undefined for wrong shapes', () => {
    expect(inspectBinauthToken(Buffer.alloc(100))).to.equal(undefined);
    expect(inspectBinauthToken(Buffer.alloc(101))).to.equal(undefined); // time 0
  });
});
