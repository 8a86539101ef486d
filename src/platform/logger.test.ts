import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, redactUrl } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino(loggerOptions('info'), stream), lines };
}

describe('logger', () => {
  it('redacts passwords, tokens and card data wherever they appear', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        password: 'hunter2-secret',
        body: {
          password: 'nested-secret',
          refreshToken: 'rt_abcdef',
          cardDetails: { number: '4242424242424242', cvv: '123' },
        },
        req: { headers: { authorization: 'Bearer eyJ.secret.sig', cookie: 'sid=abc' } },
        user: { token: 'eyJhbGciOi.payload.sig' },
        email: 'ada@example.com',
      },
      'login attempt',
    );
    const out = lines.join('');
    for (const secret of [
      'hunter2-secret',
      'nested-secret',
      'rt_abcdef',
      '4242424242424242',
      'eyJ.secret.sig',
      'sid=abc',
      'eyJhbGciOi',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('[redacted]');
    expect(out).toContain('ada@example.com');
    expect(JSON.parse(out)).toMatchObject({ level: 30, service: 'lectern', msg: 'login attempt' });
  });

  it('redacts single-use secrets in logged URLs', () => {
    expect(redactUrl('/api/auth/oauth/google/callback?code=abc123&state=xyz&scope=openid')).toBe(
      '/api/auth/oauth/google/callback?code=[redacted]&state=[redacted]&scope=openid',
    );
    expect(redactUrl('/files/avatars/x.png?exp=123&sig=deadbeef')).toBe(
      '/files/avatars/x.png?exp=123&sig=[redacted]',
    );
    expect(redactUrl('/health/live')).toBe('/health/live');
  });
});
