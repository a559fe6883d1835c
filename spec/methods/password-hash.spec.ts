/**
 * scrypt hashes in users files: the parameters are bounded so that one check
 * stays under 64 MiB of memory (128·N·r bytes) and a bounded amount of work,
 * with an error that says what was asked and what the limit is.
 */
import { expect } from 'chai';
import { parsePasswordHash, hashPassword, verifyPassword, SCRYPT_MAX_MEMORY } from '../../methods/userpass.js';

const SALT = 'AAAAAAAAAAAAAAAAAAAAAA==';
const HASH = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const h = (N: number, r: number, p = 1): string => `$scrypt$N=${N},r=${r},p=${p}$${SALT}$${HASH}`;

describe('methods: scrypt hash parameters', () => {
  it('accepts the default and anything up to 64 MiB per check', () => {
    expect(parsePasswordHash(h(16384, 8))).to.include({ N: 16384, r: 8, p: 1 });
    expect(parsePasswordHash(h(1 << 16, 8))).to.include({ N: 1 << 16, r: 8 });
    expect(parsePasswordHash(h(1 << 19, 1)).N, 'exactly 64 MiB').to.equal(1 << 19);
    expect(SCRYPT_MAX_MEMORY).to.equal(64 * 1024 * 1024);
  });

  it('refuses parameters that need more than 64 MiB, saying how much they ask', () => {
    // The old bounds (N <= 2^20, r <= 32) allowed 4 GiB per login.
    expect(() => parsePasswordHash(h(1 << 20, 32))).to.throw(/scrypt parameters out of range: N=1048576, r=32 need 4096 MiB per check \(128·N·r\); the limit is 64 MiB/);
    expect(() => parsePasswordHash(h(1 << 20, 16))).to.throw(/need 2048 MiB per check/);
    expect(() => parsePasswordHash(h(1 << 17, 8))).to.throw(/need 128 MiB per check/);
    expect(() => parsePasswordHash(h(1 << 20, 1))).to.throw(/need 128 MiB per check/);
  });

  it('bounds the work too: p repeats the whole computation', () => {
    expect(parsePasswordHash(h(16384, 8, 8)).p).to.equal(8);
    expect(() => parsePasswordHash(h(1 << 16, 8, 16))).to.throw(/scrypt parameters out of range: N·r·p = 8388608 is more than 2097152/);
  });

  it('still refuses malformed shapes', () => {
    expect(() => parsePasswordHash(h(3, 8))).to.throw(/scrypt parameters out of range/);
    expect(() => parsePasswordHash(h(16384, 0))).to.throw(/scrypt parameters out of range/);
    expect(() => parsePasswordHash('$scrypt$N=16384$x')).to.throw(/malformed scrypt hash/);
  });

  it('hashPassword() output verifies, and a wrong password does not', async () => {
    const stored = await hashPassword('s3cret');
    expect(await verifyPassword('s3cret', stored)).to.equal(true);
    expect(await verifyPassword('s3creT', stored)).to.equal(false);
  });
});
