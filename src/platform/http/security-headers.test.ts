import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerSecurityHeaders, securityHeaders } from './security-headers.ts';

describe('security headers', () => {
  it('are helmet’s defaults, computed once, with the CSP as configured', () => {
    const production = securityHeaders({});
    expect(production).toMatchObject({
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    expect(production['content-security-policy']).toContain('upgrade-insecure-requests');
    expect(production).not.toHaveProperty('x-powered-by');

    const development = securityHeaders({
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    });
    expect(development['content-security-policy']).toContain("default-src 'self'");
    expect(development['content-security-policy']).not.toContain('upgrade-insecure-requests');
  });

  it('go on every answer, and a route can replace one with its own', async () => {
    const app = Fastify();
    registerSecurityHeaders(app, {});
    app.get('/plain', async () => ({ ok: true }));
    app.get('/own-csp', async (_request, reply) =>
      reply.header('content-security-policy', "default-src 'none'").send({ ok: true }),
    );
    const plain = await app.inject({ url: '/plain' });
    expect(plain.headers['x-content-type-options']).toBe('nosniff');
    expect(plain.headers['content-security-policy']).toContain("default-src 'self'");
    const own = await app.inject({ url: '/own-csp' });
    expect(own.headers['content-security-policy']).toBe("default-src 'none'");
    expect(own.headers['x-frame-options']).toBe('SAMEORIGIN');
    await app.close();
  });
});
