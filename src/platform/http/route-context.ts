import type { Platform } from '../platform.ts';
import type { preHandlerAsyncHookHandler } from 'fastify';
import type { AuthGuard } from './auth.ts';
import type { RateLimitBuckets } from './rate-limit.ts';

/** What a module's route plugin receives besides its own service. */
export interface RouteContext {
  platform: Platform;
  guard: AuthGuard;
  buckets: RateLimitBuckets;
  /** `Idempotency-Key` handling; authenticate first: `onRequest: guard.authenticate, preHandler: idempotency`. */
  idempotency: preHandlerAsyncHookHandler;
}
