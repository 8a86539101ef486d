import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../../platform/crypto.ts';
import { BadGateway, type ErrorDetail, ValidationError } from '../../platform/errors.ts';

/**
 * The built-in card gateway (issue 5): format checks a real processor makes (Luhn, expiry, CVV),
 * the well-known test numbers for each outcome, and charges/refunds. It keeps no state: a charge
 * id carries its amount and currency under an HMAC, so a refund can be checked after a restart.
 * Card numbers and CVVs never leave this file; callers keep only the brand and the last four.
 */
export interface CardDetails {
  number: string;
  expiryMonth: string;
  expiryYear: string;
  cvv: string;
}

export type CardBrand = 'visa' | 'mastercard' | 'verve' | 'amex' | 'other';

export interface CheckedCard {
  brand: CardBrand;
  last4: string;
}

export type CardChargeResult =
  | { status: 'succeeded'; chargeId: string; brand: CardBrand; last4: string }
  | {
      status: 'declined' | 'insufficient_funds';
      code: string;
      message: string;
      brand: CardBrand;
      last4: string;
    }
  | { status: 'gateway_error'; code: string; message: string; brand: CardBrand; last4: string };

/** Test numbers with a fixed outcome; every other valid number succeeds. */
const OUTCOMES: Record<string, 'declined' | 'insufficient_funds' | 'gateway_error'> = {
  '4000000000000002': 'declined',
  '4000000000009995': 'insufficient_funds',
  '4000000000000119': 'gateway_error',
};

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The card scheme from the number's prefix (IIN ranges). */
export function cardBrand(digits: string): CardBrand {
  const six = Number(digits.slice(0, 6));
  const four = Number(digits.slice(0, 4));
  const two = Number(digits.slice(0, 2));
  if (two === 34 || two === 37) return 'amex';
  // Verve (Nigeria) ranges sit inside the 50/65 prefixes, so they are checked before Mastercard.
  if (
    (six >= 506099 && six <= 506198) ||
    (six >= 507865 && six <= 507964) ||
    (six >= 650002 && six <= 650027)
  )
    return 'verve';
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return 'mastercard';
  if (digits.startsWith('4')) return 'visa';
  return 'other';
}

/**
 * Checks a card's format and returns its brand and last four, or throws a 400 with one detail per
 * bad field (`body.cardDetails.number`, …). Expiry is valid through the end of its month (UTC).
 */
export function checkCard(card: CardDetails, now = new Date(), field = 'body.cardDetails'): CheckedCard {
  const details: ErrorDetail[] = [];
  const digits = card.number.replace(/[\s-]/g, '');
  let brand: CardBrand = 'other';
  if (!/^\d{12,19}$/.test(digits)) {
    details.push({ field: `${field}.number`, message: 'Card number must have 12 to 19 digits' });
  } else if (!luhnValid(digits)) {
    details.push({ field: `${field}.number`, message: 'Card number is not valid' });
  } else {
    brand = cardBrand(digits);
    if (brand === 'amex' && digits.length !== 15) {
      details.push({ field: `${field}.number`, message: 'Card number is not valid' });
    }
  }

  const month = /^(0?[1-9]|1[0-2])$/.test(card.expiryMonth) ? Number(card.expiryMonth) : null;
  if (month === null)
    details.push({ field: `${field}.expiryMonth`, message: 'Expiry month must be 01 to 12' });
  const year = /^\d{2}$/.test(card.expiryYear)
    ? 2000 + Number(card.expiryYear)
    : /^20\d{2}$/.test(card.expiryYear)
      ? Number(card.expiryYear)
      : null;
  if (year === null) {
    details.push({ field: `${field}.expiryYear`, message: 'Expiry year must be YY or YYYY' });
  } else if (month !== null) {
    const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
    const expiry = year * 12 + (month - 1);
    if (expiry < current) details.push({ field: `${field}.expiryYear`, message: 'Card has expired' });
    else if (expiry > current + 20 * 12)
      details.push({ field: `${field}.expiryYear`, message: 'Expiry date is too far in the future' });
  }

  const cvvLength = brand === 'amex' ? 4 : 3;
  if (!new RegExp(`^\\d{${cvvLength}}$`).test(card.cvv)) {
    details.push({ field: `${field}.cvv`, message: `CVV must be ${cvvLength} digits` });
  }

  if (details.length) throw new ValidationError('Invalid payment details', details);
  return { brand, last4: digits.slice(-4) };
}

/** The card gateway, signing charge ids with `secret` (the platform signing secret). */
export function createCardGateway(secret: string) {
  const sign = (payload: string) =>
    createHmac('sha256', secret).update(`card-charge:${payload}`).digest('base64url').slice(0, 22);

  return {
    check: checkCard,

    /**
     * Charges a card. Format errors throw 400 (as `check`); the outcome of a well-formed card is a
     * value, never an exception: success with a signed charge id, a decline, or a gateway error.
     */
    async charge(input: {
      card: CardDetails;
      amountMinor: number;
      currency: string;
    }): Promise<CardChargeResult> {
      const { brand, last4 } = checkCard(input.card);
      if (!Number.isSafeInteger(input.amountMinor) || input.amountMinor <= 0) {
        throw new Error('A card charge needs a positive integer amount');
      }
      const outcome = OUTCOMES[input.card.number.replace(/[\s-]/g, '')];
      if (outcome === 'declined') {
        return { status: 'declined', code: 'card_declined', message: 'Payment declined', brand, last4 };
      }
      if (outcome === 'insufficient_funds') {
        return {
          status: 'insufficient_funds',
          code: 'insufficient_funds',
          message: 'Insufficient funds',
          brand,
          last4,
        };
      }
      if (outcome === 'gateway_error') {
        return {
          status: 'gateway_error',
          code: 'gateway_error',
          message: 'The card processor is unavailable; please try again',
          brand,
          last4,
        };
      }
      const payload = `${input.amountMinor}_${input.currency}_${randomBytes(8).toString('hex')}`;
      return { status: 'succeeded', chargeId: `ch_${payload}_${sign(payload)}`, brand, last4 };
    },

    /**
     * Refunds (part of) a charge. The charge id must carry a valid signature and at least the
     * amount refunded; otherwise the gateway refuses (502). The refund id is derived from the
     * charge and amount, so retrying a refund after a crash yields the same id.
     */
    async refund(chargeId: string, amountMinor: number): Promise<{ refundId: string }> {
      const match = /^ch_(\d{1,12})_([A-Z]{3})_([0-9a-f]{16})_([A-Za-z0-9_-]{22})$/.exec(chargeId);
      if (!match) throw new BadGateway('Card refund refused: unknown charge');
      const [, amount, currency, nonce, signature] = match;
      const payload = `${amount}_${currency}_${nonce}`;
      if (!safeEqual(sign(payload), signature!)) throw new BadGateway('Card refund refused: unknown charge');
      if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0 || amountMinor > Number(amount)) {
        throw new BadGateway('Card refund refused: amount exceeds the charge');
      }
      const refundId = createHmac('sha256', secret)
        .update(`card-refund:${chargeId}:${amountMinor}`)
        .digest('base64url')
        .slice(0, 24);
      return { refundId: `re_${refundId}` };
    },
  };
}
export type CardGateway = ReturnType<typeof createCardGateway>;
