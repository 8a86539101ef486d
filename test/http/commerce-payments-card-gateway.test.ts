import { describe, expect, it } from 'vitest';
import {
  cardBrand,
  checkCard,
  createCardGateway,
  luhnValid,
} from '../../src/modules/commerce/commerce.card-gateway.ts';
import { ValidationError } from '../../src/platform/errors.ts';
import { testCard } from '../factories/commerce.ts';

/** Appends the Luhn check digit to a prefix. */
function withCheckDigit(prefix: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(prefix + d)) return prefix + d;
  throw new Error('unreachable');
}

function detailsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).details;
  }
  throw new Error('expected a ValidationError');
}

describe('card gateway simulator', () => {
  const now = new Date('2026-06-15T12:00:00Z');

  it('checks the Luhn digit', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(luhnValid('4242424242424241')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
  });

  it('detects visa, mastercard (51–55 and 2221–2720), verve, amex and others', () => {
    expect(cardBrand('4242424242424242')).toBe('visa');
    expect(cardBrand('5555555555554444')).toBe('mastercard');
    expect(cardBrand(withCheckDigit('222300000000000'))).toBe('mastercard');
    expect(cardBrand(withCheckDigit('506099000000000000'))).toBe('verve');
    expect(cardBrand(withCheckDigit('507865000000000'))).toBe('verve');
    expect(cardBrand(withCheckDigit('650002000000000'))).toBe('verve');
    expect(cardBrand('378282246310005')).toBe('amex');
    expect(cardBrand('6011111111111117')).toBe('other');
  });

  it('accepts YY and YYYY years, one- or two-digit months, valid through the end of the month', () => {
    expect(checkCard(testCard('4242 4242 4242 4242', { expiryMonth: '6', expiryYear: '26' }), now)).toEqual({
      brand: 'visa',
      last4: '4242',
    });
    expect(
      checkCard(testCard('4242-4242-4242-4242', { expiryMonth: '06', expiryYear: '2026' }), now).last4,
    ).toBe('4242');
    expect(
      detailsOf(() =>
        checkCard(testCard('4242424242424242', { expiryMonth: '05', expiryYear: '2026' }), now),
      ),
    ).toEqual([{ field: 'body.cardDetails.expiryYear', message: 'Card has expired' }]);
    expect(detailsOf(() => checkCard(testCard('4242424242424242', { expiryYear: '2099' }), now))).toEqual([
      { field: 'body.cardDetails.expiryYear', message: 'Expiry date is too far in the future' },
    ]);
    for (const expiryMonth of ['0', '00', '13', 'ab']) {
      expect(detailsOf(() => checkCard(testCard('4242424242424242', { expiryMonth }), now))).toEqual([
        { field: 'body.cardDetails.expiryMonth', message: 'Expiry month must be 01 to 12' },
      ]);
    }
    for (const expiryYear of ['7', '207', '1999', 'xx']) {
      expect(detailsOf(() => checkCard(testCard('4242424242424242', { expiryYear }), now))).toEqual([
        { field: 'body.cardDetails.expiryYear', message: 'Expiry year must be YY or YYYY' },
      ]);
    }
  });

  it('wants 3-digit CVVs, 4 for Amex, and 15-digit Amex numbers', () => {
    expect(detailsOf(() => checkCard(testCard('4242424242424242', { cvv: '1234' }), now))).toEqual([
      { field: 'body.cardDetails.cvv', message: 'CVV must be 3 digits' },
    ]);
    expect(detailsOf(() => checkCard(testCard('4242424242424242', { cvv: '12a' }), now))).toHaveLength(1);
    expect(checkCard(testCard('378282246310005', { cvv: '1234' }), now).brand).toBe('amex');
    expect(
      detailsOf(() => checkCard(testCard(withCheckDigit('34000000000000000'), { cvv: '1234' }), now)),
    ).toEqual([{ field: 'body.cardDetails.number', message: 'Card number is not valid' }]);
  });

  it('charges: test numbers give their outcome, any other valid number succeeds', async () => {
    const gateway = createCardGateway('secret-a');
    const charge = (number: string) =>
      gateway.charge({ card: testCard(number), amountMinor: 1234, currency: 'NGN' });
    expect(await charge('4242424242424242')).toMatchObject({
      status: 'succeeded',
      brand: 'visa',
      last4: '4242',
    });
    expect(await charge('4084084084084081')).toMatchObject({ status: 'succeeded' });
    expect(await charge(withCheckDigit('506099000000000000'))).toMatchObject({
      status: 'succeeded',
      brand: 'verve',
    });
    expect(await charge('4000000000000002')).toMatchObject({
      status: 'declined',
      message: 'Payment declined',
    });
    expect(await charge('4000000000009995')).toMatchObject({
      status: 'insufficient_funds',
      message: 'Insufficient funds',
    });
    expect(await charge('4000000000000119')).toMatchObject({
      status: 'gateway_error',
      code: 'gateway_error',
    });
    await expect(charge('4242424242424241')).rejects.toBeInstanceOf(ValidationError);
    const a = await charge('4242424242424242');
    const b = await charge('4242424242424242');
    expect(a.status === 'succeeded' && b.status === 'succeeded' && a.chargeId !== b.chargeId).toBe(true);
  });

  it('refunds a signed charge, up to its amount, even from a new instance (stateless)', async () => {
    const result = await createCardGateway('secret-a').charge({
      card: testCard(),
      amountMinor: 5000,
      currency: 'USD',
    });
    if (result.status !== 'succeeded') throw new Error('charge failed');
    const { chargeId } = result;
    expect(chargeId).toMatch(/^ch_5000_USD_[0-9a-f]{16}_[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(result)).not.toContain('4242424242424242');

    const restarted = createCardGateway('secret-a');
    const refund = await restarted.refund(chargeId, 5000);
    expect(refund.refundId).toMatch(/^re_/);
    expect(await restarted.refund(chargeId, 5000)).toEqual(refund);
    expect((await restarted.refund(chargeId, 2000)).refundId).not.toBe(refund.refundId);

    await expect(restarted.refund(chargeId, 5001)).rejects.toThrow('amount exceeds the charge');
    await expect(restarted.refund(chargeId, 0)).rejects.toThrow('amount exceeds the charge');
    await expect(restarted.refund(chargeId.replace('ch_5000_', 'ch_9000_'), 9000)).rejects.toThrow(
      'unknown charge',
    );
    await expect(createCardGateway('secret-b').refund(chargeId, 5000)).rejects.toThrow('unknown charge');
    await expect(restarted.refund('ch_nonsense', 1)).rejects.toThrow('unknown charge');
  });
});
