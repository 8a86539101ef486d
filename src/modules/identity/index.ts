import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import { adminRoutes } from './identity.admin.routes.ts';
import { createAdminUsers } from './identity.admin.service.ts';
import { createAuditService } from './identity.audit.service.ts';
import { createAccessTokens } from './identity.credentials.ts';
import { scheduleCredentialPurge } from './identity.housekeeping.ts';
import { emailFlowRoutes } from './identity.email-flows.routes.ts';
import { createEmailFlows } from './identity.email-flows.service.ts';
import { mfaRoutes } from './identity.mfa.routes.ts';
import { createMfa } from './identity.mfa.service.ts';
import { invitationRoutes } from './identity.invitations.routes.ts';
import { createInvitations } from './identity.invitations.service.ts';
import { createOAuthProviders } from './identity.oauth.providers.ts';
import { oauthRoutes } from './identity.oauth.routes.ts';
import { createOAuthService } from './identity.oauth.service.ts';
import { privacyRoutes } from './identity.privacy.routes.ts';
import { createPrivacyService } from './identity.privacy.service.ts';
import { profileRoutes } from './identity.profile.routes.ts';
import { createProfileService } from './identity.profile.service.ts';
import { identityRoutes } from './identity.routes.ts';
import { createIdentityService } from './identity.service.ts';
import { appendAudit, listAdminContacts, type AuditEntry } from './identity.repository.ts';
import { sessionRoutes } from './identity.sessions.routes.ts';
import { createSignIn, noMfa, type MfaGate } from './identity.signin.ts';

export { USER_ERASED, USER_REGISTERED, USER_UPDATED } from './identity.service.ts';
export { PURGE_EXPIRED_CREDENTIALS_JOB } from './identity.housekeeping.ts';
export { verifyAuditChain, type AuditChainReport } from './identity.audit.service.ts';
export type {
  IdentityService,
  NewUser,
  UserErased,
  UserRegistered,
  UserUpdated,
} from './identity.service.ts';
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
    logger: platform.logger,
  });
  const service = createIdentityService({
    db: platform.db,
    events: platform.events,
    signIn,
    storage: platform.storage,
    logger: platform.logger,
  });

  // Feature services of the module. Each adds its route plugin below; MFA also sets `mfaGate`.
  const routePlugins = [
    // `oauth` is created below; the closure reads it only when a request arrives.
    identityRoutes(service, signIn, {
      loginWithProviderToken: (body, meta) => oauth.loginWithProviderToken(body, meta),
    }),
    sessionRoutes(signIn),
  ];
  // (features are wired here)
  const emailFlows = createEmailFlows({
    db: platform.db,
    mailer: platform.mailer,
    throttle: platform.throttle,
    events: platform.events,
    signIn,
    appUrl: config.appUrl,
  });
  routePlugins.push(emailFlowRoutes(emailFlows));
  const mfa = createMfa({
    db: platform.db,
    sealer: platform.sealer,
    mailer: platform.mailer,
    signIn,
    appUrl: config.appUrl,
  });
  routePlugins.push(mfaRoutes(mfa));
  mfaGate = mfa.gate;
  const invitations = createInvitations({
    db: platform.db,
    mailer: platform.mailer,
    signIn,
    appUrl: config.appUrl,
  });
  routePlugins.push(invitationRoutes(invitations));
  const adminUsers = createAdminUsers({ db: platform.db, service, signIn, invitations });
  routePlugins.push(adminRoutes(adminUsers, createAuditService({ db: platform.db })));
  const profiles = createProfileService({
    db: platform.db,
    storage: platform.storage,
    publicUrl: config.publicUrl,
    logger: platform.logger,
  });
  routePlugins.push(profileRoutes(profiles));
  const privacy = createPrivacyService({
    db: platform.db,
    jobs: platform.jobs,
    events: platform.events,
    storage: platform.storage,
    mailer: platform.mailer,
    sealer: platform.sealer,
    signIn,
    identity: service,
    logger: platform.logger,
  });
  routePlugins.push(privacyRoutes(privacy));
  const oauth = createOAuthService({
    db: platform.db,
    providers: createOAuthProviders(config.oauth),
    sealer: platform.sealer,
    signIn,
    identity: service,
    publicUrl: config.publicUrl,
    appUrl: config.appUrl,
  });
  routePlugins.push(oauthRoutes(oauth));
  scheduleCredentialPurge({ db: platform.db, jobs: platform.jobs, logger: platform.logger });

  return {
    api: {
      verifyAccessToken: signIn.verifyAccessToken,
      /** Creates an account of any role (CLI, admin tools, seeds). */
      createUser: (input: Parameters<typeof service.createUser>[0]) => service.createUser(input, 'cli'),
      findUserByEmail: service.findUserByEmail,
      getProfile: service.getProfile,
      /** Active administrators (id, email, name), for operational alerts such as a disabled webhook. */
      listAdminContacts: () => listAdminContacts(platform.db),
      /** Appends a row to the hash-chained audit log (other modules' security-relevant actions). */
      audit: (entry: AuditEntry) => appendAudit(platform.db, entry),
      /** Adds a module's section to every personal-data export (GDPR access requests). */
      registerExportContributor: privacy.registerExportContributor,
      /** Seed 002's provider-token login `{ provider, providerUserId, accessToken }`, verified with the provider. */
      loginWithProviderToken: oauth.loginWithProviderToken,
    },
    service,
    signIn,
    oauth,
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type IdentityModule = ReturnType<typeof createIdentityModule>;
export type IdentityApi = IdentityModule['api'];
