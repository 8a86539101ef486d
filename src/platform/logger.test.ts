import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLoggerFactory, loggerOptions, redactUrl } from './logger.ts';

function capture(level = 'info') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino(loggerOptions(level), stream), lines };
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

  it('builds a request logger on its first line at an enabled level, with the bindings and redaction', () => {
    const { logger, lines } = capture('warn');
    let children = 0;
    const parent = Object.assign(Object.create(logger), {
      child: (...args: Parameters<typeof logger.child>) => {
        children += 1;
        return logger.child(...args);
      },
    }) as typeof logger;
    const request = lazyChildLoggerFactory(parent, { reqId: 'req-1' }, {});
    request.info('incoming request');
    request.debug({ password: 'x' }, 'details');
    expect(children).toBe(0);
    expect(lines).toEqual([]);
    request.error({ err: new Error('boom'), password: 'hunter2' }, 'request failed');
    request.warn('slow');
    expect(children).toBe(1);
    const [failed, slow] = lines.map((line) => JSON.parse(line));
    expect(failed).toMatchObject({
      level: 50,
      reqId: 'req-1',
      msg: 'request failed',
      password: '[redacted]',
    });
    expect(failed.err.message).toBe('boom');
    expect(slow).toMatchObject({ level: 40, reqId: 'req-1', msg: 'slow' });
    expect(request.level).toBe('warn');
    expect(request.child({ step: 2 }).bindings()).toMatchObject({ reqId: 'req-1', step: 2 });
  });

  it('builds a request logger at once when its route sets its own level', () => {
    const { logger, lines } = capture('warn');
    const request = lazyChildLoggerFactory(logger, { reqId: 'req-2' }, { level: 'debug' });
    request.debug('route-level detail');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 20, reqId: 'req-2', msg: 'route-level detail' });
  });
});
