/** binauth: the stateless Ed25519 core, key files, and the SOCKS method (0x80 by default). */
export { binauthPublicKey, generateBinauthKeyPair, inspectBinauthToken, createBinauth, signBinauthChallenge, BINAUTH_TYPE_CHALLENGE, BINAUTH_TYPE_TOKEN, BINAUTH_TOKEN_LENGTH, BINAUTH_SIGNED_CHALLENGE_LENGTH, BINAUTH_DEFAULT_CHALLENGE_TTL, BINAUTH_DEFAULT_TOKEN_TTL, BinauthError } from './core.js';
export type { BinauthOptions, Binauth } from './core.js';
export { parsePrivateKey, loadKeyFile, writeKeyFile, writeSecretFile, parseAuthorizedKeys, loadAuthorizedKeys, loadTokenCache, saveTokenCache, KeyFileError } from './keyfile.js';
export { binauthStatusText, encodeBinauthFrame, takeBinauthFrame, binauth, BINAUTH_METHOD_CODE, BINAUTH_FRAME_VERSION, BINAUTH_DEFAULT_MAX_MESSAGE, BinauthFrame, BinauthStatus } from './method.js';
export type { BinauthAuthorize, BinauthMethodOptions } from './method.js';
