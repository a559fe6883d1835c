/**
 * The one helper the programs share: runMain(), the "I am a program" shape.
 * It runs `main`, exits with its code, and turns an error into one line
 * (usage errors exit 2 with a --help hint, anything else 1): never a stack
 * trace for an expected error.
 */
import { UsageError } from '../lib/service/index.js';

export function runMain(prog: string, main: () => Promise<number | void>): void {
  // Without a handler of our own, SIGUSR1 opens Node's inspector on 127.0.0.1:9229
  // (any local user could attach and read secrets). Services print counters on it.
  process.on('SIGUSR1', () => {});
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      process.stderr.write(`${prog}: ${err instanceof Error ? err.message : String(err)}\n`);
      if (err instanceof UsageError) process.stderr.write(`Try '${prog} --help'.\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
