/**
 * Typed events, checked by the compiler: every `@ts-expect-error` line
 * below must fail to compile, or the build (`tsc`, run before the tests)
 * fails: an unused @ts-expect-error is itself an error. The lines without
 * it must compile, with listener arguments of the declared types. The
 * runtime part only shows the objects still behave as EventEmitters.
 */
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import dgram from 'node:dgram';
import { SocksServer } from '../../lib/server/server.js';
import { SocksUdpSocket } from '../../lib/client/udp.js';
import { ElectrumSession } from '../../lib/electrum/client.js';
import { makeAddress, type SocksAddress } from '../../lib/protocol/codec/address.js';
import type { SocksError } from '../../lib/protocol/errors.js';
import type { SocksRequest } from '../../lib/protocol/server-handshake.js';
import { TypedEventEmitter } from '../../lib/transport/typed-events.js';

/** Compile-time only: never called. */
export function serverTypes(server: SocksServer): void {
  server.on('tunnel', (request, source) => {
    const r: SocksRequest = request;
    const s: SocksAddress = source;
    void r;
    void s;
  });
  server.on('clientError', (err, source) => {
    const code: SocksError['code'] = err.code;
    // @ts-expect-error source may be undefined (refused at the connection limit)
    const host: string = source.host;
    void code;
    void host;
  });
  server.once('udp', (_req, _src, relay) => void relay.port);
  server.on('listening', () => {});
  // @ts-expect-error an unknown event name
  server.on('bogusEvent', () => {});
  // @ts-expect-error an unknown event name, once
  server.once('tunel', () => {});
  // @ts-expect-error a listener with the wrong argument type
  server.on('tunnel', (request: string) => void request);
  // @ts-expect-error emit with missing arguments
  server.emit('tunnel');
  // @ts-expect-error emit of an unknown event
  server.emit('nothing');
  // @ts-expect-error listenerCount of an unknown event
  server.listenerCount('nope');
}

export function udpTypes(u: SocksUdpSocket): void {
  u.on('message', (data, rinfo) => {
    const b: Buffer = data;
    const family: 'IPv4' | 'IPv6' | 'domain' = rinfo.family;
    void b;
    void family;
  });
  u.on('close', () => {});
  // @ts-expect-error 'data' is not a SocksUdpSocket event
  u.on('data', () => {});
  // @ts-expect-error message data is a Buffer, not a string
  u.on('message', (data: string) => void data);
}

export function electrumTypes(s: ElectrumSession): void {
  s.on('notification', (method, params) => {
    const m: string = method;
    void m;
    void params;
  });
  // @ts-expect-error an unknown event name
  s.on('notify', () => {});
}

describe('typed events', () => {
  it('compile-time checks passed (this file built); the emitters still work at run time', () => {
    const server = new SocksServer();
    const seen: string[] = [];
    server.on('tunnel', (req) => seen.push(req.command));
    server.emit('tunnel', { command: 'connect' } as SocksRequest, makeAddress('127.0.0.1', 1));
    expect(seen).to.deep.equal(['connect']);
    expect(server.listenerCount('tunnel')).to.equal(1);

    const sock = dgram.createSocket('udp4');
    const u = new SocksUdpSocket(new PassThrough(), sock, makeAddress('127.0.0.1', 9));
    let closed = 0;
    u.on('close', () => closed++);
    u.close();
    expect(closed).to.equal(1);

    interface Ev { ping: [n: number] }
    class Pinger extends TypedEventEmitter<Ev> {}
    const p = new Pinger();
    let got = 0;
    p.on('ping', (n) => { got = n; });
    p.emit('ping', 7);
    expect(got).to.equal(7);
  });
});
