/**
 * A raw RFC 1961 client over the Kerberos binding, for specs that send what
 * no well-behaved client sends (an unwrapped NEC-style level byte, curl's
 * level 0) and read the server's exact bytes: greeting 05 01 01, then
 * context tokens by hand.
 */
import net from 'node:net';
import { loadNative, type NativeCredential, type NativeName, type NativeSecurityContext } from '../../methods/gssapi/kerberos/native.js';
import { INITIATOR_FLAGS } from '../../methods/gssapi/kerberos/context.js';

export interface RawGssClient {
  /** Makes the first context token now (e.g. while the ticket is still valid) without sending it. */
  prepare(): Promise<void>;
  /** Sends the first context token (01 01 LEN token); returns the server's whole answer (its frame or 01 FF). */
  sendToken(): Promise<Buffer>;
  /** Writes `bytes`, returns what the server sends next (up to its close, or 2 s of silence). */
  send(bytes: Buffer): Promise<Buffer>;
  /** 01 02 LEN wrap([level], conf=false): the protection-level message. */
  levelMessage(level: number): Buffer;
  close(): void;
}

/** Everything received so far, and a wait for more (end or `ms` of silence, whichever first). */
function collector(s: net.Socket) {
  let buf = Buffer.alloc(0);
  let ended = false;
  let wake: (() => void) | undefined;
  s.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); wake?.(); });
  s.on('close', () => { ended = true; wake?.(); });
  s.on('error', () => {});
  return {
    async take(min: number, ms = 2000): Promise<Buffer> {
      const end = Date.now() + ms;
      while (buf.length < min && !ended && Date.now() < end) {
        await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      }
      const out = buf;
      buf = Buffer.alloc(0);
      return out;
    },
  };
}

export async function rawGssClient(port: number, ccache: string, target: string): Promise<RawGssClient> {
  const gss = loadNative();
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  const inbox = collector(s);
  s.write(Buffer.from([5, 1, 1]));
  const choice = await inbox.take(2);
  if (!choice.equals(Buffer.from([5, 1]))) throw new Error(`server chose ${choice.toString('hex')}, not 05 01`);
  const cred: NativeCredential = await gss.acquireCredential({ usage: 'initiate', ccache });
  const name: NativeName = new gss.Name(target, 'hostbased');
  const ctx: NativeSecurityContext = new gss.SecurityContext();
  const frame = (type: number, token: Buffer) => Buffer.concat([Buffer.from([1, type, token.length >> 8, token.length & 0xff]), token]);
  let first: Buffer | undefined;
  return {
    async prepare() {
      first = (await ctx.initSecContext(cred, name, INITIATOR_FLAGS, null)).token;
    },
    async sendToken() {
      first ??= (await ctx.initSecContext(cred, name, INITIATOR_FLAGS, null)).token;
      s.write(frame(1, first));
      const reply = await inbox.take(4);
      if (reply.length >= 4 && reply[1] === 1) {
        const token = reply.subarray(4);
        if (token.length) await ctx.initSecContext(cred, name, INITIATOR_FLAGS, token);
      }
      return reply;
    },
    async send(bytes) {
      s.write(bytes);
      return inbox.take(1 << 20);
    },
    levelMessage: (level) => frame(2, ctx.wrap(Buffer.from([level]), false).token),
    close() {
      s.destroy();
      ctx.release();
      cred.release();
      name.release();
    },
  };
}
