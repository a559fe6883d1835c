/**
 * HTTP Basic authentication with the Electrum gateway's token (docs/protocols.md
 * §3, as bwt does it): any username, the token as password, e.g.
 * `curl -u :TOKEN http://127.0.0.1:3060/`. Compared in constant time;
 * anything else gets 401 with a challenge.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeEqual } from '../protocol/secret.js';

const DEFAULT_REALM = 'sockskit';

/** The password from an `Authorization: Basic …` header, or undefined if absent or malformed. */
export function basicPassword(header: string | undefined): string | undefined {
  if (!header) return undefined;
  // RFC 7617: the scheme is case-insensitive; tolerate extra spaces before the credentials.
  const m = /^basic +([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return decoded.slice(colon + 1);
}

/** True when the header carries `token` as the Basic password (username ignored). */
export function checkBasicAuth(header: string | undefined, token: string): boolean {
  const pass = basicPassword(header);
  // Compare a placeholder when absent so every request costs the same.
  return safeEqual(pass ?? '\u0000', token) && pass !== undefined;
}

/**
 * Wraps a request handler: it runs only for requests with the right token;
 * others get 401 and `WWW-Authenticate: Basic realm="…"`. A function as
 * `token` is asked on every request (a token that rotates on reload).
 */
export function basicAuthGuard(
  token: string | (() => string),
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: { realm?: string; onFailure?: (req: IncomingMessage) => void } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const realm = (options.realm ?? DEFAULT_REALM).replace(/["\\]/g, '');
  return (req, res) => {
    if (checkBasicAuth(req.headers.authorization, typeof token === 'function' ? token() : token)) return handler(req, res);
    options.onFailure?.(req);
    res.writeHead(401, { 'WWW-Authenticate': `Basic realm="${realm}"`, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('401 Unauthorized: use HTTP Basic with the access token as the password\n');
  };
}
