/**
 * Consumer projects for the package specs: the tarball `npm pack` makes
 * (prepack included, so the packed package.json is the one users get),
 * installed offline into fresh projects whose node_modules is seeded with
 * copies of the runtime dependencies from this checkout; undici majors from
 * the npm registry, cached per major outside the repository so a second run
 * needs no network. TypeScript is this checkout's compiler, run against the
 * consumer's tsconfig (the consumer itself installs no TypeScript).
 */
import os from 'node:os';
import path from 'node:path';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { ROOT } from './paths.js';
import { runProgram, cleanEnv, tempDir, type RunResult } from './interop.js';

export const npm = (args: string[], cwd: string, timeout = 180_000, extra: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
  runProgram('sh', ['-c', 'cd "$0" && exec npm "$@"', cwd, ...args], { timeout, env: cleanEnv({ npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra }) });

export interface Packed {
  /** The .tgz path. */
  tarball: string;
  /** Paths inside the tarball. */
  files: string[];
  /** npm's figures: packed bytes, unpacked bytes. */
  size: number;
  unpackedSize: number;
  /** The package.json as packed. */
  manifest: Record<string, unknown> & { scripts?: Record<string, string> };
  /** package.json of the checkout before packing, to compare after. */
  before: string;
}

let packing: Promise<Packed> | undefined;
const scratch = tempDir('sockskit-consumers-');
process.once('exit', () => scratch.cleanup());

/** `npm pack` once per process (its prepack builds, then strips `prepare` from the packed manifest). */
export function packOnce(): Promise<Packed> {
  packing ??= (async () => {
    const before = readFileSync(path.join(ROOT, 'package.json'), 'utf8');
    const r = await npm(['pack', '--json', '--pack-destination', scratch.dir], ROOT);
    if (r.code !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
    // prepack's build prints to stdout before npm's JSON.
    const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n[') + 1 || 0)) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    const tarball = path.join(scratch.dir, info[0]!.filename);
    const x = await runProgram('tar', ['-xzOf', tarball, 'package/package.json'], { timeout: 30_000 });
    return { tarball, files: info[0]!.files.map((f) => f.path), size: info[0]!.size, unpackedSize: info[0]!.unpackedSize, manifest: JSON.parse(x.stdout), before };
  })();
  return packing;
}

/** The runtime dependencies of this checkout (and theirs), as directories under node_modules. */
async function runtimeDeps(): Promise<string[]> {
  const ls = await npm(['ls', '--omit=dev', '--omit=peer', '--all', '--parseable'], ROOT);
  const modules = path.join(ROOT, 'node_modules') + path.sep;
  return ls.stdout.split('\n').filter((d) => d.startsWith(modules)).map((d) => d.slice(modules.length));
}

export interface ProjectOptions {
  /** package.json "type" (default module). */
  type?: 'module' | 'commonjs';
  /** Extra packages from this checkout's node_modules, linked in (@types/node for TypeScript consumers). */
  link?: string[];
  /** An undici directory to put at node_modules/undici (from undiciMajor()). */
  undici?: string;
  /** Let the package's install script try the Kerberos addon build (default: skipped, SOCKSKIT_SKIP_KERBEROS_BUILD=1; the splice addon's is always skipped). */
  kerberos?: boolean;
}

/** A fresh project with the packed tarball installed offline. */
export async function project(name: string, o: ProjectOptions = {}): Promise<string> {
  const packed = await packOnce();
  const dir = path.join(scratch.dir, name);
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: o.type ?? 'module' }));
  for (const d of await runtimeDeps()) cpSync(path.join(ROOT, 'node_modules', d), path.join(dir, 'node_modules', d), { recursive: true });
  const install = await npm(['install', '--offline', '--no-audit', '--no-fund', '--no-save', packed.tarball], dir, 180_000, { SOCKSKIT_SKIP_SPLICE_BUILD: '1', ...(o.kerberos ? {} : { SOCKSKIT_SKIP_KERBEROS_BUILD: '1' }) });
  if (install.code !== 0) throw new Error(`npm install of the tarball in ${name}:\n${install.stderr}`);
  // After the install: npm would prune a package the project's package.json does not name.
  if (o.undici) cpSync(o.undici, path.join(dir, 'node_modules', 'undici'), { recursive: true });
  for (const l of o.link ?? []) {
    const to = path.join(dir, 'node_modules', l);
    mkdirSync(path.dirname(to), { recursive: true });
    if (!existsSync(to)) symlinkSync(path.join(ROOT, 'node_modules', l), to);
  }
  return dir;
}

/** Where undici majors are cached (SOCKSKIT_CACHE, else ~/.cache/sockskit). */
export function cacheDir(): string {
  return process.env.SOCKSKIT_CACHE ?? path.join(os.homedir(), '.cache', 'sockskit');
}

/**
 * undici of `major`, installed from the npm registry into the cache on first
 * use (`--prefer-offline`: npm's cache first); returns its package directory,
 * or throws with npm's output when it cannot be had.
 */
export async function undiciMajor(major: number): Promise<string> {
  const prefix = path.join(cacheDir(), `undici-${major}`);
  const dir = path.join(prefix, 'node_modules', 'undici');
  if (existsSync(path.join(dir, 'package.json'))) return dir;
  mkdirSync(prefix, { recursive: true });
  writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ name: `undici-${major}-cache`, private: true }));
  const r = await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--engine-strict=false', `undici@${major}`], prefix);
  if (r.code !== 0 || !existsSync(path.join(dir, 'package.json'))) throw new Error(`cannot install undici@${major} from the registry:\n${r.stderr}`);
  return dir;
}

/** undici's version in `dir`. */
export function versionOf(dir: string): string {
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs this checkout's tsc over `project`'s tsconfig.json. */
export function tsc(projectDir: string): Promise<RunResult> {
  return runProgram(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', projectDir], { timeout: 120_000 });
}

/** Whether this Node satisfies a ">=X.Y.Z" requirement. */
export function nodeAtLeast(want: string): boolean {
  const a = process.versions.node.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
}
