import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import { createAccessTokens } from './identity.credentials.ts';
import { identityRoutes } from './identity.routes.ts';
import { createIdentityService } from './identity.service.ts';
import { sessionRoutes } from './identity.sessions.routes.ts';
import { createSignIn, noMfa, type MfaGate } from './identity.signin.ts';

export { USER_ERASED, USER_REGISTERED } from './identity.service.ts';
export type { IdentityService, NewUser, UserErased, UserRegistered } from './identity.service.ts';
export type { IssuedTokens, RequestMeta } from './identity.signin.ts';

/** The identity module: accounts, credentials, sessions. Other modules use `api` only. */
export function createIdentityModule(platform: Platform) {
  const { config } = platform;
  const tokens = createAccessTokens({
    secret: config.auth.jwtSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttlSeconds: config.auth.accessTtlSeconds,
  });
  let mfaGate: MfaGate = noMfa;
  const signIn = createSignIn({
    db: platform.db,
    cache: platform.cache,
    throttle: platform.throttle,
    tokens,
    accessTtlSeconds: config.auth.accessTtlSeconds,
    refreshTtlDays: config.auth.refreshTtlDays,
    mfa: () => mfaGate,
  });
  const service = createIdentityService({ db: platform.db, events: platform.events, signIn });

  // Feature services of the module. Each adds its route plugin below; MFA also sets `mfaGate`.
  const routePlugins = [identityRoutes(service, signIn), sessionRoutes(signIn)];
  // (features are wired here)
  void ((gate: MfaGate) => (mfaGate = gate));

  return {
    api: {
      verifyAccessToken: signIn.verifyAccessToken,
      /** Creates an account of any role (CLI, admin tools, seeds). */
      createUser: (input: Parameters<typeof service.createUser>[0]) => service.createUser(input, 'cli'),
      findUserByEmail: service.findUserByEmail,
      getProfile: service.getProfile,
    },
    service,
    signIn,
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type IdentityModule = ReturnType<typeof createIdentityModule>;
export type IdentityApi = IdentityModule['api'];
