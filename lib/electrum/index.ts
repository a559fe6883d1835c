/** Electrum: the client through the token gate, token files, the HTTP Basic guard. */
export { generateToken, tokenFromCookie, loadOrCreateCookie, readTokenFile, resolveToken, TOKEN_ALPHABET, TOKEN_LENGTH } from './token.js';
export type { CookieResult, TokenFlags } from './token.js';
export { basicPassword, checkBasicAuth, basicAuthGuard } from './http-auth.js';
export { electrumConnect, electrumCall, ElectrumSession, ElectrumRpcError, LineReader, rawAuthSequence } from './client.js';
export type { ElectrumVia, ElectrumConnectOptions, ElectrumStream, ElectrumCallOptions, ElectrumSessionEvents } from './client.js';
