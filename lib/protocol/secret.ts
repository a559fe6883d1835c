/**
 * Constant-time comparison for secrets. Both sides are reduced to HMAC-SHA256
 * digests under a per-process random key before timingSafeEqual, so neither
 * the content nor the length of the expected secret leaks through timing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY = randomBytes(32);

function digest(v: string | Buffer): Buffer {
  return createHmac('sha256', KEY).update(v).digest();
}

/** True when a and b are the same bytes (strings compared as UTF-8). */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Redacts a secret for logs: never its content, only that it exists. */
export function redact(_secret: unknown): string {
  return '<redacted>';
}
