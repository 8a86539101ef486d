import type { Platform } from '../../platform/platform.ts';
import { createAccessTokens } from './identity.credentials.ts';
import { identityRoutes } from './identity.routes.ts';
import { createIdentityService } from './identity.service.ts';

export { USER_REGISTERED } from './identity.service.ts';
export type { IdentityService, IssuedTokens, UserRegistered } from './identity.service.ts';

/** The identity module: accounts, credentials, sessions. Other modules use `api` only. */
export function createIdentityModule(platform: Platform) {
  const { config } = platform;
  const tokens = createAccessTokens({
    secret: config.auth.jwtSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttlSeconds: config.auth.accessTtlSeconds,
  });
  const service = createIdentityService({
    db: platform.db,
    events: platform.events,
    cache: platform.cache,
    tokens,
    accessTtlSeconds: config.auth.accessTtlSeconds,
    refreshTtlDays: config.auth.refreshTtlDays,
  });
  return {
    api: {
      verifyAccessToken: service.verifyAccessToken,
      createUser: service.createUser,
      findUserByEmail: service.findUserByEmail,
      getProfile: service.getProfile,
    },
    service,
    routes: identityRoutes(service),
  };
}
export type IdentityModule = ReturnType<typeof createIdentityModule>;
export type IdentityApi = IdentityModule['api'];
