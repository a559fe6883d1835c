/**
 * man/sockskit-proxy.8 is generated from the options table (scripts/man-page.mjs):
 * it must be current, name every option, and render with `man -l`; the systemd
 * unit's Documentation= points at it.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { proxyManPage, optionsOf, PROXY_OPTIONS } from '../../lib/service/index.js';
import { ROOT } from '../support/paths.js';
import { requireProgram, runProgram } from '../support/interop.js';

const PAGE = path.join(ROOT, 'man', 'sockskit-proxy.8');

describe('man page sockskit-proxy(8)', () => {
  it('is what the options table generates (run node scripts/man-page.mjs after a build)', () => {
    expect(readFileSync(PAGE, 'utf8')).to.equal(proxyManPage(PROXY_OPTIONS));
  });

  it('is shipped (package.json man) and the systemd unit points at it', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { man: string[]; files: string[] };
    expect(pkg.man).to.deep.equal(['./man/sockskit-proxy.8']);
    expect(pkg.files).to.include('man');
    expect(readFileSync(path.join(ROOT, 'examples', 'deploy', 'sockskit-proxy.service'), 'utf8')).to.match(/^Documentation=man:sockskit-proxy\(8\)$/m);
  });

  it('renders with man -l and names every option', async function () {
    const man = requireProgram(this, 'man');
    const r = await runProgram(man, ['-l', PAGE], { env: { PATH: process.env.PATH, MANWIDTH: '200', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C' } });
    expect(r.code, r.stderr).to.equal(0);
    const text = r.stdout.replace(/.\x08/g, '');
    expect(text).to.match(/^SOCKSKIT-PROXY\(8\)/);
    for (const name of Object.keys(optionsOf(PROXY_OPTIONS))) expect(text, name).to.include(`--${name}`);
  });
});
