/** Where things are, from the compiled spec (dist/spec/support/paths.js). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The compiled tree. */
export const DIST = path.join(ROOT, 'dist');

/** The compiled programs, by their file name in examples/. */
export const PROGRAM = {
  proxy: path.join(DIST, 'examples', 'proxy.js'),
  connect: path.join(DIST, 'examples', 'connect.js'),
  keys: path.join(DIST, 'examples', 'keys.js'),
  electrumGateway: path.join(DIST, 'examples', 'electrum-gateway.js'),
  electrumConnect: path.join(DIST, 'examples', 'electrum-connect.js'),
  embed: path.join(DIST, 'examples', 'embed.js'),
  customProxy: path.join(DIST, 'examples', 'custom-proxy.js'),
} as const;

/** A file under spec/fixtures (read from the sources, not dist). */
export function fixture(name: string): string {
  return path.join(ROOT, 'spec', 'fixtures', name);
}
