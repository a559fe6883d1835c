/**
 * examples/custom-proxy.ts: sockskit-proxy's flags and service over
 * runService, with its own request hook (port 25 refused with REP 02, every
 * other destination logged and relayed).
 */
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, waitFor, type Target } from '../support/server.js';
import { spawnDaemon, stopAll, cleanEnv, listeningPort, runProgram } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';

const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);

describe('examples/custom-proxy: sockskit-proxy with a request hook of its own', function () {
  this.timeout(15000);
  let target: Target;
  before(async () => { target = await startTarget(echo); });
  after(async () => { await target.close(); });
  afterEach(() => stopAll());

  it('relays and logs an allowed destination, refuses port 25 with REP 02, and keeps the proxy flags', async () => {
    const daemon = await spawnDaemon(process.execPath, [PROGRAM.customProxy, '--listen', '127.0.0.1:0', '--access-log', 'off', '--user', 'alice:pw'], { env: cleanEnv({}) });
    const port = await listeningPort(daemon);
    expect(daemon.output()).to.match(/^custom-proxy: listening on 127\.0\.0\.1:\d+ \(username\/password, 1 user\)$/m);
    const auth = hex('05 01 02 01 05 61 6c 69 63 65 02 70 77');
    const ok = await RawClient.connect(port);
    ok.write(Buffer.concat([auth, hex('05 01 00 01 7f 00 00 01'), port16(target.port)]));
    expect(await ok.read(4)).to.deep.equal(hex('05 02 01 00'));
    expect((await ok.read(10)).subarray(0, 4)).to.deep.equal(hex('05 00 00 01'));
    ok.write('ping');
    expect((await ok.read(4)).toString()).to.equal('ping');
    ok.destroy();
    await waitFor(() => new RegExp(`custom-proxy: connect 127\\.0\\.0\\.1:${target.port}`).test(daemon.output()), 5000, 'the hook\'s line');
    const smtp = await RawClient.connect(port);
    smtp.write(Buffer.concat([auth, hex('05 01 00 01 7f 00 00 01 00 19')]));
    await smtp.read(4);
    expect((await smtp.read(10)).subarray(0, 2)).to.deep.equal(hex('05 02'));
    smtp.destroy();
  });

  it('a usage error is one line and exit 2', async () => {
    const r = await runProgram(process.execPath, [PROGRAM.customProxy, '--workers', 'many']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal("custom-proxy: --workers wants a number from 1 to 256 or auto, got \"many\"\nTry 'custom-proxy --help'.\n");
  });
});
