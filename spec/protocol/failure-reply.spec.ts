/**
 * Failure replies: one function (encodeFailureReply over failureCode) gives
 * the bytes for every failure the server engine answers, SOCKS5 and SOCKS4;
 * RemoteProtocolError spells out "no reply".
 */
import { expect } from 'chai';
import { ServerHandshake, ServerAction } from '../../lib/protocol/server-handshake.js';
import { failureCode, RemoteProtocolError, NO_REPLY } from '../../lib/protocol/errors.js';
import { encodeFailureReply } from '../../lib/protocol/codec/failure.js';
import { none } from '../../methods/none.js';
import { hex, toHex } from '../support/helpers.js';

const writes = (actions: ServerAction[]) => toHex(Buffer.concat(actions.flatMap((a) => (a.type === 'write' ? [a.data] : []))));

describe('failure replies', () => {
  it('SOCKS5: a failure REP as is; 00 (success) and codes past FF become 01', () => {
    expect([0x00, 0x01, 0x02, 0x07, 0x08, 0x5b, 0x100, undefined].map((r) => failureCode(5, r))).to.deep.equal([1, 1, 2, 7, 8, 0x5b, 1, 1]);
    expect(toHex(encodeFailureReply(5, 0x05))).to.equal('05 05 00 01 00 00 00 00 00 00');
  });

  it('SOCKS4: 5A..5D as is; every SOCKS5 code (00 included) becomes 5B', () => {
    expect([0x5a, 0x5b, 0x5c, 0x5d, 0x00, 0x01, 0x05, undefined].map((r) => failureCode(4, r))).to.deep.equal([0x5a, 0x5b, 0x5c, 0x5d, 0x5b, 0x5b, 0x5b, 0x5b]);
    expect(toHex(encodeFailureReply(4, 0x5c))).to.equal('00 5c 00 00 00 00 00 00');
  });

  it('deny() on SOCKS4 never grants: deny(0) answers 5B (as deny(0) answers 01 on SOCKS5)', () => {
    const e4 = new ServerHandshake({ methods: [none()] });
    e4.receive(hex('04 01 00 50 7f 00 00 01 00'));
    expect(writes(e4.deny(0))).to.equal('00 5b 00 00 00 00 00 00');
    const e5 = new ServerHandshake({ methods: [none()] });
    e5.receive(hex('05 01 00 05 01 00 01 7f 00 00 01 00 50'));
    expect(writes(e5.deny(0))).to.equal('05 01 00 01 00 00 00 00 00 00');
  });

  it('RemoteProtocolError: reply defaults to 01; NO_REPLY (\'none\') means no reply code', () => {
    expect(new RemoteProtocolError('x').reply).to.equal(1);
    expect(new RemoteProtocolError('x', { code: 'ERR_SOCKS_BAD_VERSION', reply: NO_REPLY }).reply).to.equal(undefined);
    expect(new RemoteProtocolError('x', { reply: 0x5b }).code).to.equal('ERR_SOCKS_PROTOCOL');
  });
});
