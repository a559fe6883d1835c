/**
 * Method 0x00, NO AUTHENTICATION REQUIRED (RFC 1928 §3), in its one home: no
 * sub-negotiation, identity `null`. methods/none.ts publishes it as none();
 * the client engine offers it when it was given no methods at all.
 */
import { Method } from './constants.js';
import type { AuthMethod, AuthStep } from './method.js';

const DONE: AuthStep<null> = Object.freeze({ kind: 'done', identity: null }) as AuthStep<null>;
const SESSION = Object.freeze({ start: () => DONE, receive: () => DONE });

export const NO_AUTH: Readonly<AuthMethod<null>> = Object.freeze({ code: Method.NoAuth, name: 'none', server: () => SESSION, client: () => SESSION });
