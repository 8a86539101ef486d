import { z } from 'zod';

/**
 * Money conversions. The database holds integer minor units; the API shows major units as the
 * seeds do (`amount: 49.99`). Conversions go through decimal strings, never float arithmetic.
 */
export const SUPPORTED_CURRENCIES = ['NGN', 'USD', 'EUR', 'GBP', 'GHS', 'KES', 'ZAR'] as const;
export type Currency = (typeof SUPPORTED_CURRENCIES)[number];

/** Digits after the decimal point (ISO 4217). Every supported currency has two. */
export function currencyExponent(currency: string): number {
  if (!(SUPPORTED_CURRENCIES as readonly string[]).includes(currency)) {
    throw new Error(`Unsupported currency ${currency}`);
  }
  return 2;
}

/** 49.99 → 4999. Throws when the amount has more decimals than the currency allows. */
export function toMinor(major: number, currency: string): number {
  const exponent = currencyExponent(currency);
  if (!Number.isFinite(major)) throw new Error('Amount must be a finite number');
  // The shortest decimal representation of the number, as typed by the client.
  const text = String(Math.abs(major));
  if (/e/i.test(text)) throw new Error('Amount is out of range');
  const [whole = '0', fraction = ''] = text.split('.');
  if (fraction.length > exponent) throw new Error(`Amount has more than ${exponent} decimals`);
  const minor = Number(whole + fraction.padEnd(exponent, '0'));
  if (!Number.isSafeInteger(minor)) throw new Error('Amount is out of range');
  return major < 0 ? -minor : minor;
}

/** 4999 → 49.99 (the number the API shows). */
export function toMajor(minor: number, currency: string): number {
  const exponent = currencyExponent(currency);
  const sign = minor < 0 ? '-' : '';
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  return Number(
    `${sign}${digits.slice(0, digits.length - exponent)}.${digits.slice(digits.length - exponent)}`,
  );
}

export const currencySchema = z
  .string()
  .trim()
  .toUpperCase()
  .pipe(
    z.enum(SUPPORTED_CURRENCIES, { error: `Currency must be one of ${SUPPORTED_CURRENCIES.join(', ')}` }),
  );

/** A positive amount in major units with at most two decimals (e.g. 49.99). */
export const majorAmountSchema = z
  .number()
  .positive('Amount must be greater than 0')
  // Stored as minor units in integer columns (at most 2,147,483,647); no course costs more than
  // the catalog's maximum price of 10,000,000 either.
  .max(10_000_000, 'At most 10,000,000')
  .refine((n) => /^\d+(\.\d{1,2})?$/.test(String(n)), 'Amount must have at most 2 decimals');
