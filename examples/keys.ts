#!/usr/bin/env node
/**
 * sockskit-keys: make and inspect binauth (Ed25519) key files.
 *
 *   sockskit-keys generate FILE [--force]   new private key (hex seed, mode 0600); prints the public key
 *   sockskit-keys public FILE               prints the public key of FILE
 *   sockskit-keys hash                      reads a password on stdin, prints its scrypt hash
 *
 * The public key (64 hex digits) is what goes into the proxy's
 * --authorized-keys file. The private key is never printed.
 */
import { parseArgs } from 'node:util';
import { generateBinauthKeyPair, binauthPublicKey, loadKeyFile, writeKeyFile, hashPassword } from '../lib/index.js';
import { fail, UsageError, packageVersion } from './cli.js';

const PROG = 'sockskit-keys';

const HELP = `Usage: ${PROG} generate FILE [--force]
       ${PROG} public FILE
       ${PROG} hash < PASSWORD

Key files for binauth, the Ed25519 challenge/token SOCKS5 method (0x80).

Commands
  generate FILE   write a new private key to FILE (64 hex digits, mode 0600)
                  and print its public key on stdout
  public FILE     print the public key of the private key in FILE
  hash            read a password from stdin (first line) and print its scrypt
                  hash for a sockskit-proxy --users file: NAME:$scrypt$...
                  (the password never appears in the process list)

Options
  -f, --force     generate: overwrite FILE if it exists
  -h, --help      show this help
  -V, --version   show the version

Put public keys, one per line, in the file given to
  sockskit-proxy --binauth-key SERVER_KEY --authorized-keys FILE
and use the private key with
  sockskit-connect --binauth-key CLIENT_KEY
`;

/** The first line of stdin (a password), without its newline. */
function readStdinLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => (text += d));
    process.stdin.on('end', () => resolve(text.split(/\r?\n/)[0] ?? ''));
    process.stdin.on('error', reject);
  });
}

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        force: { type: 'boolean', short: 'f' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write(`${PROG} ${packageVersion()}\n`);
    return;
  }
  const [command, file, ...rest] = positionals;
  if (command === undefined) throw new UsageError('missing command (generate, public or hash)');
  if (command === 'hash') {
    if (file !== undefined) throw new UsageError('hash reads the password from stdin, not from the command line');
    if (values.force) throw new UsageError('--force only applies to generate');
    const pw = await readStdinLine();
    if (pw === '') throw new UsageError('hash: empty password on stdin');
    process.stdout.write(`${await hashPassword(pw)}\n`);
    return;
  }
  if (command !== 'generate' && command !== 'public') throw new UsageError(`unknown command ${JSON.stringify(command)} (generate, public or hash)`);
  if (file === undefined) throw new UsageError(`${command} needs a FILE`);
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (values.force && command !== 'generate') throw new UsageError('--force only applies to generate');

  if (command === 'generate') {
    const { privateKey, publicKey } = generateBinauthKeyPair();
    writeKeyFile(file, privateKey, { force: values.force });
    process.stdout.write(`${publicKey.toString('hex')}\n`);
    return;
  }
  const seed = loadKeyFile(file, (warning) => process.stderr.write(`${PROG}: warning: ${warning}\n`));
  process.stdout.write(`${binauthPublicKey(seed).toString('hex')}\n`);
}

main(process.argv.slice(2)).catch((err) => fail(PROG, err));
