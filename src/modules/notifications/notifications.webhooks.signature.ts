import { createHmac, randomBytes } from 'node:crypto';

/** A new signing secret: 256 random bits, `whsec_` + base64url. The whole string is the HMAC key. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/** Hex HMAC-SHA256 of `<timestamp>.<body>` with `secret` (its UTF-8 bytes) as the key. */
export const signPayload = (secret: string, timestamp: number, body: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

/**
 * The `Lectern-Signature` header: `t=<unix seconds>,v1=<hex>` with one `v1` per secret (the
 * current one first; during a rotation the previous one too), Stripe-style.
 */
export function signatureHeader(secrets: string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${signPayload(s, timestamp, body)}`)].join(',');
}
