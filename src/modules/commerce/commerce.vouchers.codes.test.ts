import { describe, expect, it } from 'vitest';
import {
  attemptHint,
  CODE_BITS,
  CROCKFORD_ALPHABET,
  generateVoucherCode,
  hashVoucherCode,
  maskedCode,
  normaliseVoucherCode,
  voucherHint,
} from './commerce.vouchers.codes.ts';

describe('voucher codes', () => {
  it('are 28 Crockford base32 symbols (140 bits) in seven groups of four', () => {
    expect(CROCKFORD_ALPHABET).toHaveLength(32);
    expect(CROCKFORD_ALPHABET).not.toMatch(/[ILOU]/);
    expect(CODE_BITS).toBeGreaterThanOrEqual(128);
    for (let i = 0; i < 200; i++) {
      expect(generateVoucherCode()).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/);
    }
  });

  it('use every symbol about equally often in every position (no bias from the bit packing)', () => {
    const n = 4000;
    const counts = Array.from({ length: 28 }, () => new Map<string, number>());
    for (let i = 0; i < n; i++) {
      [...generateVoucherCode().replace(/-/g, '')].forEach((c, pos) =>
        counts[pos]!.set(c, (counts[pos]!.get(c) ?? 0) + 1),
      );
    }
    for (const position of counts) {
      expect(position.size).toBe(32);
      // Expected 125 per symbol; a fair source stays far inside these bounds.
      for (const count of position.values()) expect(count).toBeGreaterThan(60);
      for (const count of position.values()) expect(count).toBeLessThan(200);
    }
  });

  it('normalise case, spacing, dashes and the look-alike letters', () => {
    const code = generateVoucherCode();
    const canonical = code.replace(/-/g, '');
    expect(normaliseVoucherCode(code)).toBe(canonical);
    expect(normaliseVoucherCode(` ${code.toLowerCase().replace(/-/g, ' ')}  `)).toBe(canonical);
    expect(normaliseVoucherCode('OOOO-IIII-LLLL-oooo-iiii-llll-0000')).toBe('0000111111110000111111110000');
    expect(normaliseVoucherCode(canonical.slice(1))).toBeNull();
    expect(normaliseVoucherCode(`${canonical}A`)).toBeNull();
    expect(normaliseVoucherCode('UUUU-0000-0000-0000-0000-0000-0000')).toBeNull();
    expect(normaliseVoucherCode('')).toBeNull();
  });

  it('hash the canonical form, so every spelling of a code finds the same voucher', () => {
    const code = generateVoucherCode();
    const spellings = [code, code.toLowerCase(), code.replace(/-/g, ' ')];
    const hashes = new Set(spellings.map((s) => hashVoucherCode(normaliseVoucherCode(s)!)));
    expect(hashes.size).toBe(1);
    expect([...hashes][0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('show only the last group as a hint', () => {
    const canonical = normaliseVoucherCode(generateVoucherCode())!;
    expect(voucherHint(canonical)).toBe(canonical.slice(-4));
    expect(maskedCode('QF6E')).toBe('****-****-****-****-****-****-QF6E');
    expect(attemptHint('abcd-efgh-jk')).toBe('GHJK');
    expect(attemptHint('abc')).toBeNull();
  });
});
