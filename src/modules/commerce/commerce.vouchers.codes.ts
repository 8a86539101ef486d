import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../platform/crypto.ts';

/**
 * Voucher codes: 28 Crockford base32 symbols (140 random bits from the CSPRNG), shown in seven
 * groups of four, e.g. `7K3Q-M9XD-2PVA-RT0W-H4NC-8ZJB-QF6E`. Crockford's alphabet leaves out
 * I, L, O and U, so codes read aloud or typed from paper survive the usual confusions; input is
 * normalised back (O → 0, I/L → 1) before it is hashed.
 */
export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_LENGTH = 28;
export const CODE_GROUP = 4;
/** Random bits in a code: 5 per symbol. */
export const CODE_BITS = CODE_LENGTH * 5;

const NORMALISED = new RegExp(`^[${CROCKFORD_ALPHABET}]{${CODE_LENGTH}}$`);

/** A new code in its grouped, printable form. */
export function generateVoucherCode(): string {
  const bytes = randomBytes(Math.ceil(CODE_BITS / 8));
  let symbols = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff; // at most 12 bits are ever pending
    bits += 8;
    while (bits >= 5 && symbols.length < CODE_LENGTH) {
      bits -= 5;
      symbols += CROCKFORD_ALPHABET[(buffer >> bits) & 31];
    }
  }
  return groupCode(symbols);
}

/** `7K3QM9XD…` → `7K3Q-M9XD-…`. */
export function groupCode(normalised: string): string {
  return normalised.match(new RegExp(`.{1,${CODE_GROUP}}`, 'g'))!.join('-');
}

/**
 * What the user typed → the canonical code, or null when it cannot be a code. Case, spaces and
 * dashes are ignored; O reads as 0, I and L as 1 (Crockford's decoding rules).
 */
export function normaliseVoucherCode(input: string): string | null {
  const text = input
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return NORMALISED.test(text) ? text : null;
}

/** The lookup key stored instead of the code. */
export const hashVoucherCode = (normalised: string): string => sha256Hex(normalised);

/** The last group, shown to admins and in audit entries to recognise a code without revealing it. */
export const voucherHint = (normalised: string): string => normalised.slice(-CODE_GROUP);

/** `****-****-…-QF6E`: the code's shape with only its hint visible. */
export function maskedCode(hint: string): string {
  const hidden = Array.from({ length: CODE_LENGTH / CODE_GROUP - 1 }, () => '*'.repeat(CODE_GROUP));
  return [...hidden, hint].join('-');
}

/**
 * The hint of an arbitrary attempted input, for failure audits: its last four canonical symbols,
 * and only when the input is long enough that those are a small part of it (never a whole code).
 */
export function attemptHint(input: string): string | null {
  const text = input
    .toUpperCase()
    .replace(/[^0-9A-Z]+/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return text.length >= 2 * CODE_GROUP ? text.slice(-CODE_GROUP) : null;
}
