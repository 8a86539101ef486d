import type { FastifyRequest } from 'fastify';
import type { RequestMeta } from './identity.signin.ts';

/** Who is asking, from the request: client IP (proxy-aware per TRUST_PROXY), user agent, request id. */
export const metaOf = (request: FastifyRequest): RequestMeta => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'],
  requestId: request.id,
});
