import type { FastifyReply, FastifyRequest } from 'fastify';
import { Forbidden, Unauthorized } from '../errors.ts';

export type Role = 'admin' | 'instructor' | 'student';
export const roles = ['student', 'instructor', 'admin'] as const satisfies readonly Role[];

/** Who is calling: always taken from a verified access token, never from the request body. */
export interface Principal {
  userId: number;
  role: Role;
  sessionId: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Verifies a bearer token (signature, claims, live session) and returns its principal or throws Unauthorized. */
export type TokenVerifier = (token: string) => Promise<Principal>;

/** OpenAPI security requirement for routes behind the guard. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];

export function createAuthGuard(verify: TokenVerifier) {
  async function authenticate(request: FastifyRequest, _reply: FastifyReply) {
    const header = request.headers.authorization;
    const match = header ? /^Bearer ([A-Za-z0-9\-_.]+)$/i.exec(header) : null;
    if (!match?.[1]) throw new Unauthorized('Authentication required');
    request.principal = await verify(match[1]);
  }

  /**
   * For public routes that show more to some callers (owners, admins): verifies a bearer token
   * when one is sent (a bad one is still 401) and lets anonymous requests through.
   */
  async function authenticateOptional(request: FastifyRequest, reply: FastifyReply) {
    if (request.headers.authorization === undefined) return;
    await authenticate(request, reply);
  }

  /** preHandler allowing only the given roles; run after `authenticate`. */
  function requireRole(...allowed: Role[]) {
    return async (request: FastifyRequest) => {
      if (!request.principal) throw new Unauthorized();
      if (!allowed.includes(request.principal.role)) throw new Forbidden('Access denied');
    };
  }

  return { authenticate, authenticateOptional, requireRole };
}
export type AuthGuard = ReturnType<typeof createAuthGuard>;

/** The caller's principal on a route behind `authenticate`. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Unauthorized();
  return request.principal;
}
