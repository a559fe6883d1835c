/**
 * Shared by the native addon build scripts (build-kerberos.mjs,
 * build-splice.mjs): runs node-gyp on one addon directory.
 *
 * Best effort (the package's `install` step): one line of outcome, ALWAYS
 * exits 0. With --required (`npm run build:<addon>`): fails loudly. node-gyp
 * gets --nodedir pointing at this Node's own headers when they are installed
 * (a distribution's nodejs, /usr/include/node), so it works offline: node-gyp
 * on its own would download headers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const required = process.argv.includes('--required');
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** What node-gyp needs besides the addon's own libraries. */
export function missingToolchain() {
  const out = [];
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

/**
 * Builds native/<dir>. `addon`: { dir, title, built (the line on success),
 * lacking() (what is missing, [] if nothing), unavailable(message) (the
 * best-effort line), skipEnv }.
 */
export function buildAddon(addon) {
  const fail = (message, output = '') => {
    if (required) {
      if (output) process.stderr.write(output);
      console.error(`sockskit: ${message}`);
      process.exit(1);
    }
    console.error(addon.unavailable(message));
    process.exit(0);
  };
  if (!required && process.env[addon.skipEnv] === '1') process.exit(0);
  const dir = path.join(root, 'native', addon.dir);
  if (!existsSync(path.join(dir, 'binding.gyp'))) fail(`native/${addon.dir}/binding.gyp is missing`);
  const lacking = addon.lacking();
  if (lacking.length) fail(`the ${addon.title} was not built: missing ${lacking.join(', ')}`);
  const [cmd, ...pre] = nodeGyp();
  const args = [...pre, 'rebuild', `--directory=${dir}`, ...nodedir()];
  const r = spawnSync(cmd, args, { cwd: root, stdio: required ? 'inherit' : 'pipe', encoding: 'utf8' });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-25).join('\n');
    fail(`building the ${addon.title} failed (node-gyp exit ${r.status ?? r.signal ?? r.error?.message})`, tail);
  }
  console.error(`sockskit: ${addon.built}`);
}
