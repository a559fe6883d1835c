#!/usr/bin/env node
/**
 * Builds the Kerberos (MIT GSS-API) binding in native/kerberos with node-gyp.
 *
 *   node scripts/build-kerberos.mjs             the package's `install` step: best effort,
 *                                               one line of outcome, ALWAYS exits 0
 *   node scripts/build-kerberos.mjs --required  `npm run build:kerberos`: fails loudly
 *
 * Needs krb5-config (libkrb5-dev), a C compiler, make and python3. It runs
 * node-gyp with --nodedir pointing at this Node's own headers when they are
 * installed (a distribution's nodejs, /usr/include/node), so it works offline:
 * node-gyp on its own would download headers. SOCKSKIT_SKIP_KERBEROS_BUILD=1
 * skips the best-effort build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const required = process.argv.includes('--required');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'native', 'kerberos');

function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

function missing() {
  const out = [];
  if (!has('krb5-config', ['--libs', 'gssapi'])) out.push('libkrb5-dev (krb5-config)');
  if (!has(process.env.CC || 'cc')) out.push('a C compiler (cc)');
  if (!has('make')) out.push('make');
  if (!has(process.env.PYTHON || 'python3')) out.push('python3');
  return out;
}

/** node-gyp: npm's (npm sets npm_config_node_gyp when it runs a script), else the one npm bundles, else PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const js = candidates.find((c) => c && existsSync(c));
  return js ? [process.execPath, js] : ['node-gyp'];
}

/** This Node's installed headers (PREFIX/include/node), so that node-gyp needs no download. */
function nodedir() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function fail(message, output = '') {
  if (required) {
    if (output) process.stderr.write(output);
    console.error(`sockskit: ${message}`);
    process.exit(1);
  }
  console.error(`sockskit: ${message}; Kerberos (gssapiKerberos) is not available, everything else works. ` +
    'To add it: install libkrb5-dev, a C compiler and python3, then run `npm run build:kerberos`.');
  process.exit(0);
}

if (!required && process.env.SOCKSKIT_SKIP_KERBEROS_BUILD === '1') process.exit(0);
if (!existsSync(path.join(dir, 'binding.gyp'))) fail('native/kerberos/binding.gyp is missing');
const lacking = missing();
if (lacking.length) fail(`the Kerberos binding was not built: missing ${lacking.join(', ')}`);

const [cmd, ...pre] = nodeGyp();
const args = [...pre, 'rebuild', `--directory=${dir}`, ...nodedir()];
const r = spawnSync(cmd, args, { cwd: root, stdio: required ? 'inherit' : 'pipe', encoding: 'utf8' });
if (r.status !== 0) {
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-25).join('\n');
  fail(`building the Kerberos binding failed (node-gyp exit ${r.status ?? r.signal ?? r.error?.message})`, tail);
}
console.error('sockskit: Kerberos binding built (native/kerberos/build/Release/sockskit_gss.node)');
