#!/usr/bin/env node
/**
 * sockskit-keys: make and inspect binauth (Ed25519) key files.
 *
 *   sockskit-keys generate FILE [--force]   new private key (hex seed, mode 0600); prints the public key
 *   sockskit-keys public FILE               prints the public key of FILE
 *   sockskit-keys hash                      asks for a password (twice, echo off; or reads stdin), prints its scrypt hash
 *   sockskit-keys psk FILE [--force]        new GSS-API PSK (32 random bytes as hex, mode 0600)
 *
 * The public key (64 hex digits) is what goes into the proxy's
 * --authorized-keys file. The private key is never printed.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { generateBinauthKeyPair, binauthPublicKey, loadKeyFile, writeKeyFile, writeSecretFile, PSK_MIN_KEY, hashPassword } from '../lib/index.js';
import { UsageError, packageVersion } from '../lib/service/index.js';
import { runMain } from './cli.js';

const PROG = 'sockskit-keys';

const HELP = `Usage: ${PROG} generate FILE [--force]
       ${PROG} public FILE
       ${PROG} hash              (or: ${PROG} hash < PASSWORD)
       ${PROG} psk FILE [--force]

Key files for binauth, the Ed25519 challenge/token SOCKS5 method (0x80).

Commands
  generate FILE   write a new private key to FILE (64 hex digits, mode 0600)
                  and print its public key on stdout
  public FILE     print the public key of the private key in FILE
  hash            read a password (on a terminal: asked twice, not echoed;
                  otherwise the first line of stdin) and print its scrypt
                  hash for a sockskit-proxy --users file: NAME:$scrypt$...
                  (the password never appears in the process list)
  psk FILE        write a new GSS-API pre-shared key to FILE (32 random bytes
                  as hex, mode 0600) for --gssapi-psk on both ends

Options
  -f, --force     generate, psk: replace FILE if it exists (a symlink is
                  replaced, never written through)
  -h, --help      show this help
  -V, --version   show the version

Put public keys, one per line, in the file given to
  sockskit-proxy --binauth-key SERVER_KEY --authorized-keys FILE
and use the private key with
  sockskit-connect --binauth-key CLIENT_KEY
`;

const OPTIONS = {
  force: { type: 'boolean', short: 'f' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

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

/**
 * One line typed on the terminal with echo off (raw mode: nothing is shown),
 * after `prompt` on stderr. Backspace edits; Ctrl-C and Ctrl-D give up.
 */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new Error('no password given'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else text += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** On a terminal: asked twice with echo off; otherwise the first line of stdin. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readStdinLine();
  const first = await readHidden('Password: ');
  const again = await readHidden('Again: ');
  if (first !== again) throw new Error('the passwords do not match; nothing written');
  return first;
}

async function hash(file: string | undefined, force: boolean | undefined): Promise<void> {
  if (file !== undefined) throw new UsageError('hash reads the password from stdin, not from the command line');
  if (force) throw new UsageError('--force only applies to generate and psk');
  const pw = await readPassword();
  if (pw === '') throw new UsageError('hash: empty password');
  process.stdout.write(`${await hashPassword(pw)}\n`);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || values.version) {
    process.stdout.write(values.help ? HELP : `${PROG} ${packageVersion()}\n`);
    return;
  }
  const [command, file, ...rest] = positionals;
  if (command === undefined) throw new UsageError('missing command (generate, public, psk or hash)');
  if (command === 'hash') return hash(file, values.force);
  if (command !== 'generate' && command !== 'public' && command !== 'psk') throw new UsageError(`unknown command ${JSON.stringify(command)} (generate, public, psk or hash)`);
  if (file === undefined) throw new UsageError(`${command} needs a FILE`);
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (values.force && command === 'public') throw new UsageError('--force only applies to generate and psk');
  if (command === 'psk') {
    writeSecretFile(file, `${randomBytes(PSK_MIN_KEY).toString('hex')}\n`, { force: values.force });
  } else if (command === 'generate') {
    const { privateKey, publicKey } = generateBinauthKeyPair();
    writeKeyFile(file, privateKey, { force: values.force });
    process.stdout.write(`${publicKey.toString('hex')}\n`);
  } else {
    const seed = loadKeyFile(file, (warning) => process.stderr.write(`${PROG}: warning: ${warning}\n`));
    process.stdout.write(`${binauthPublicKey(seed).toString('hex')}\n`);
  }
}

runMain(PROG, () => main(process.argv.slice(2)));
