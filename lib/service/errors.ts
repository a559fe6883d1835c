/**
 * The service layer's errors. Every one is a UsageError (exit 2 in the
 * programs: the operator can fix it by changing a flag, a variable or the
 * file); the subclasses say which place is at fault.
 */
import { LocalProtocolError } from '../protocol/errors.js';

/** A flag, variable, file key or value an operator can correct. */
export class UsageError extends LocalProtocolError {}

/** A SOCKSKIT_* environment variable at fault. */
export class EnvError extends UsageError {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
  }
}

/** The --config file at fault; `line` when the fault has one. */
export class ConfigFileError extends UsageError {
  constructor(readonly file: string, readonly line: number | undefined, message: string) {
    super(`${file}${line === undefined ? '' : ` line ${line}`}: ${message}`);
  }
}
