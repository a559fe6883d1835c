/**
 * The protocol core is sans-I/O: lib/codec/, the two handshake engines, the
 * UDP reassembler and the method plugins import nothing that does I/O, and
 * use no timers. This reads the compiled modules and checks their imports.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CORE = [
  ...readdirSync(path.join(dist, 'lib/codec')).filter((f) => f.endsWith('.js')).map((f) => `lib/codec/${f}`),
  'lib/server-handshake.js',
  'lib/client-handshake.js',
  'lib/udp-reassembly.js',
  'methods/none.js',
  'methods/userpass.js',
];
const FORBIDDEN = /from ['"](node:)?(net|dns|dgram|tls|http|https|fs|child_process|timers)(\/[a-z]+)?['"]/;
const TIMERS = /\b(setTimeout|setInterval|setImmediate)\s*\(/;

describe('sans-I/O core', () => {
  for (const file of CORE) {
    it(`${file} imports no I/O module and starts no timer`, () => {
      const src = readFileSync(path.join(dist, file), 'utf8');
      const bad = src.split('\n').filter((l) => FORBIDDEN.test(l) || TIMERS.test(l));
      expect(bad, `${file}: ${bad.join(' | ')}`).to.deep.equal([]);
    });
  }
});
