/**
 * The layers of docs/architecture.md, enforced on the sources (type-only
 * imports included, which the compiler erases):
 *
 *   protocol ← methods ← transport ← server, client ← electrum ← service, index ← examples
 *
 * A module imports only its own layer or the ones to its left; server and
 * client never import each other, nor do service and index; nothing in lib/
 * or methods/ imports the public index; programs import only the package's
 * public entry points (the `exports` of package.json: lib/index.ts,
 * lib/service/index.ts, methods/*) and one shared helper of their own
 * (examples/cli.ts). No import cycle anywhere. Each layer also has a list of
 * the Node built-ins it may use, and the sans-I/O core starts no timer.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';

type Layer = 'protocol' | 'methods' | 'transport' | 'server' | 'client' | 'electrum' | 'service' | 'index' | 'examples';

const RANK: Record<Layer, number> = { protocol: 0, methods: 1, transport: 2, server: 3, client: 3, electrum: 4, service: 5, index: 5, examples: 6 };

/** Node built-ins each layer may import (type-only imports of node:stream/node:events count too). */
const BUILTINS: Record<Layer, readonly string[]> = {
  protocol: ['crypto', 'buffer', 'util', 'stream'],
  // child_process: the auth-helper pool (methods/squid-helper/) runs helper programs; module: the optional Kerberos binding.
  methods: ['crypto', 'buffer', 'util', 'stream', 'events', 'fs', 'net', 'path', 'module', 'child_process'],
  // module: the optional splice relay addon (transport/splice.ts).
  transport: ['stream', 'events', 'net', 'dns', 'buffer', 'util', 'module'],
  server: ['net', 'dns', 'dgram', 'events', 'stream', 'buffer', 'util', 'crypto', 'os', 'fs'],
  // crypto: the agent's TLS pool key hashes key material (tls-pool-key.ts).
  client: ['net', 'dns', 'dgram', 'events', 'stream', 'http', 'https', 'tls', 'buffer', 'util', 'url', 'module', 'crypto'],
  electrum: ['net', 'dns', 'events', 'stream', 'http', 'tls', 'fs', 'crypto', 'buffer', 'util', 'path'],
  service: ['crypto', 'fs', 'http', 'net', 'stream', 'tls', 'url', 'util', 'path', 'os', 'events', 'cluster', 'buffer'],
  index: [],
  examples: ['crypto', 'fs', 'http', 'net', 'stream', 'tls', 'url', 'util', 'path', 'os', 'events', 'cluster', 'child_process', 'readline', 'dns', 'process', 'buffer'],
};

/** npm packages a layer may import besides its own dependencies' layers. */
const PACKAGES: Partial<Record<Layer, readonly string[]>> = { service: ['debug'], examples: ['debug'] };
/** The config file is parsed by lib/service/yaml-subset.ts; the `yaml` package is a devDependency (the specs compare against it). */
const YAML_HOME = 'lib/service/config-file.ts';

/** The package's public entry points, from package.json `exports` (types paths, as sources). */
export const PUBLIC_ENTRIES: ReadonlySet<string> = new Set(
  Object.values(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).exports as Record<string, string | { import?: { types?: string } }>)
    .map((e) => (typeof e === 'object' ? e.import?.types : undefined))
    .flatMap((t) => (t && !t.includes('*') ? [t.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts')] : [])),
);
/** The one helper module the programs share. */
const PROGRAM_HELPER = 'examples/cli.ts';

/** Files of the sans-I/O core: no I/O module at all, no timer. */
const PURE_FILES = /^(lib\/protocol\/|methods\/(none|userpass)\.ts$|lib\/electrum\/gate\.ts$|methods\/binauth\/(core|method)\.ts$|methods\/gssapi\/(frame|method)\.ts$)/;
const IO_MODULES = new Set(['net', 'dns', 'dgram', 'tls', 'http', 'https', 'fs', 'child_process', 'timers']);
const TIMERS = /\b(setTimeout|setInterval|setImmediate)\s*\(/;

export function layerOf(file: string): Layer | undefined {
  // The entry points: lib/index.ts, and lib/undici.ts (sockskit/undici: its declarations name undici's types).
  if (file === 'lib/index.ts' || file === 'lib/undici.ts') return 'index';
  const m = /^lib\/(protocol|transport|server|client|electrum|service)\//.exec(file);
  if (m) return m[1] as Layer;
  if (file.startsWith('methods/')) return 'methods';
  if (file.startsWith('examples/')) return 'examples';
  return undefined;
}

export interface Edge { from: string; to: string; typeOnly: boolean }

/** Every import of a module: relative ones resolved to repository paths, bare ones as given. */
export function importsOf(file: string, src: string): Edge[] {
  const out: Edge[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m; (m = re.exec(src)); ) {
    const spec = m[3] ?? m[4];
    const typeOnly = Boolean(m[2]);
    if (spec.startsWith('.')) {
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      out.push({ from: file, to, typeOnly });
    } else {
      out.push({ from: file, to: spec, typeOnly });
    }
  }
  return out;
}

/** The rule each edge breaks, if any. */
export function violations(edges: readonly Edge[]): string[] {
  const bad: string[] = [];
  for (const e of edges) {
    const from = layerOf(e.from);
    if (!from) continue;
    if (!e.to.includes('/') || e.to.startsWith('node:') || !e.to.endsWith('.ts')) {
      const name = e.to.replace(/^node:/, '').split('/')[0];
      const builtin = e.to.startsWith('node:') || ['net', 'dns', 'dgram', 'tls', 'http', 'https', 'fs', 'child_process', 'crypto', 'stream', 'events'].includes(name);
      if (builtin && !BUILTINS[from].includes(name)) bad.push(`${e.from}: ${from} may not import node:${name}`);
      if (builtin && PURE_FILES.test(e.from) && IO_MODULES.has(name)) bad.push(`${e.from}: sans-I/O code imports node:${name}`);
      if (!builtin && e.to === 'yaml') bad.push(`${e.from} imports yaml: a devDependency; ${YAML_HOME} parses the config file with yaml-subset.ts`);
      else if ((from === 'examples' || from === 'service') && !builtin && !PACKAGES[from]!.includes(e.to)) bad.push(`${e.from}: a ${from === 'examples' ? 'program' : 'service module'} imports ${e.to}`);
      continue;
    }
    const to = layerOf(e.to);
    if (!to) { bad.push(`${e.from} imports ${e.to}, outside the layers`); continue; }
    if (from === 'examples') {
      if (to === 'examples' ? e.to !== PROGRAM_HELPER || e.from === PROGRAM_HELPER : !PUBLIC_ENTRIES.has(e.to)) {
        bad.push(`${e.from} imports ${e.to}: programs use only the public entry points (package.json exports) and ${PROGRAM_HELPER}`);
      }
      continue;
    }
    if (to === 'examples') { bad.push(`${e.from} imports the program ${e.to}`); continue; }
    if (to === 'index' && from !== 'index') { bad.push(`${e.from} imports the public index`); continue; }
    if (RANK[to] > RANK[from]) bad.push(`${e.from} (${from}) imports ${e.to} (${to}): upward`);
    else if (RANK[to] === RANK[from] && to !== from) bad.push(`${e.from} (${from}) imports ${e.to} (${to}): side-by-side layers never import each other`);
  }
  return bad;
}

/** Each cycle once, as a list of files. */
export function cycles(edges: readonly Edge[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const e of edges) if (e.to.endsWith('.ts')) (graph.get(e.from) ?? graph.set(e.from, []).get(e.from)!).push(e.to);
  const found: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

describe('layering', () => {
  const files = [...sources('lib'), ...sources('methods'), ...sources('examples')];
  const edges = files.flatMap((f) => importsOf(f, readFileSync(path.join(ROOT, f), 'utf8')));

  it('reads the whole tree', () => {
    expect(files.length).to.be.greaterThan(40);
    expect(edges.filter((e) => e.typeOnly).length, 'type-only imports are read too').to.be.greaterThan(5);
    for (const f of files) expect(layerOf(f), `${f} belongs to a layer`).to.not.equal(undefined);
  });

  it('every import points down the layers (type-only imports included)', () => {
    expect(violations(edges)).to.deep.equal([]);
  });

  it('no import cycle', () => {
    expect(cycles(edges)).to.deep.equal([]);
  });

  it('the sans-I/O core starts no timer', () => {
    const bad = files.filter((f) => PURE_FILES.test(f))
      .flatMap((f) => readFileSync(path.join(ROOT, f), 'utf8').split('\n').filter((l) => TIMERS.test(l) && !/^\s*(\*|\/\/)/.test(l)).map((l) => `${f}: ${l.trim()}`));
    expect(bad).to.deep.equal([]);
  });

  describe('the checker itself fails on planted faults', () => {
    it('an upward type-only import', () => {
      const planted = importsOf('lib/protocol/errors.ts', "import type { SocksServer } from '../server/server.js';");
      expect(planted[0].typeOnly).to.equal(true);
      expect(violations(planted)).to.deep.equal(['lib/protocol/errors.ts (protocol) imports lib/server/server.ts (server): upward']);
    });
    it('a method importing the server, server importing client, a program reaching past the index', () => {
      const planted = [
        ...importsOf('methods/userpass.ts', "import { SocksServer } from '../lib/server/server.js';"),
        ...importsOf('lib/server/server.ts', "import { connect } from '../client/connect.js';"),
        ...importsOf('examples/proxy.ts', "import { relay } from '../lib/transport/relay.js';"),
        ...importsOf('lib/protocol/codec/request.ts', "import net from 'node:net';"),
      ];
      expect(violations(planted)).to.have.length(5);
    });
    it('a program reaching into lib/server, a program importing another program, a service module importing a program', () => {
      expect(violations(importsOf('examples/proxy.ts', "import { SocksServer } from '../lib/server/server.js';"))).to.deep.equal([
        'examples/proxy.ts imports lib/server/server.ts: programs use only the public entry points (package.json exports) and examples/cli.ts',
      ]);
      expect(violations(importsOf('examples/custom-proxy.ts', "import { main } from './proxy.js';"))).to.have.length(1);
      expect(violations(importsOf('lib/service/run.ts', "import { runMain } from '../../examples/cli.js';"))).to.deep.equal(['lib/service/run.ts imports the program examples/cli.ts']);
    });
    it('the index importing service (and the reverse), yaml anywhere (even in the config file\'s home), a program importing yaml', () => {
      const planted = [
        ...importsOf('lib/index.ts', "export { runService } from './service/index.js';"),
        ...importsOf('lib/service/run.ts', "import { SocksServer } from '../index.js';"),
        ...importsOf('lib/service/settings.ts', "import { parse } from 'yaml';"),
        ...importsOf(YAML_HOME, "import { parse } from 'yaml';"),
        ...importsOf('examples/proxy.ts', "import { parse } from 'yaml';"),
      ];
      expect(violations(planted)).to.have.length(5);
    });
    it('the public entry points come from package.json exports', () => {
      expect([...PUBLIC_ENTRIES]).to.include.members(['lib/index.ts', 'lib/service/index.ts', 'methods/none.ts', 'methods/binauth/index.ts', 'lib/protocol/method.ts']);
    });
    it('a cycle', () => {
      const planted = [
        ...importsOf('lib/server/server.ts', "import { bindHandler } from './bind.js';"),
        ...importsOf('lib/server/bind.ts', "import type { ConnectionControl } from './server.js';"),
      ];
      expect(cycles(planted)).to.deep.equal([['lib/server/bind.ts', 'lib/server/server.ts', 'lib/server/bind.ts']]);
    });
  });
});
