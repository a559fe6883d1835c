/**
 * Process-level tripwires: records every 'uncaughtException' and
 * 'unhandledRejection' while armed. A listener of our own keeps an unhandled
 * rejection from becoming a crash, so a spec can assert that none happened
 * instead of losing the whole run to it.
 */
export interface Tripwire {
  readonly errors: unknown[];
  disarm(): void;
}

export function armTripwire(): Tripwire {
  const errors: unknown[] = [];
  const onError = (err: unknown): void => {
    errors.push(err);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    disarm() {
      process.removeListener('uncaughtException', onError);
      process.removeListener('unhandledRejection', onError);
    },
  };
}

/** Lets pending continuations, immediates and short timers run before asserting. */
export const settle = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));
