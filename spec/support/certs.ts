/** TLS material for specs: made with the openssl CLI at test time (makeCerts), or the fixed test set in spec/fixtures/tls (fixtureCerts). */
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { ROOT } from './paths.js';

/** A CA, and leaf certificates it signs (EC P-256, one day), all made with the openssl CLI in `dir`. */
export function makeCerts(dir: string): { ca: string; leaf: { key: Buffer; cert: Buffer }; otherName: { key: Buffer; cert: Buffer } } {
  const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const f = (name: string) => path.join(dir, name);
  ossl(['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=sockskit test CA', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  const leaf = (name: string, san: string) => {
    writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    ossl(['req', '-new', ...ec, '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
    ossl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '2', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
    return { key: readFileSync(f(`${name}.key`)), cert: readFileSync(f(`${name}.pem`)) };
  };
  return { ca: f('ca.pem'), leaf: leaf('localhost', 'DNS:localhost,IP:127.0.0.1'), otherName: leaf('other', 'DNS:other.invalid') };
}

/**
 * The same shape from spec/fixtures/tls: a CA and two leaves made once with
 * the commands in spec/fixtures/README.md, valid until 2126, so that unit
 * specs need no openssl and spawn nothing. Test keys only: they protect nothing.
 */
export function fixtureCerts(): { ca: string; leaf: { key: Buffer; cert: Buffer }; otherName: { key: Buffer; cert: Buffer } } {
  const f = (name: string) => path.join(ROOT, 'spec', 'fixtures', 'tls', name);
  const pair = (name: string) => ({ key: readFileSync(f(`${name}.key`)), cert: readFileSync(f(`${name}.pem`)) });
  return { ca: f('ca.pem'), leaf: pair('localhost'), otherName: pair('other') };
}
