import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import type { CatalogReads, CommerceReads, EnrollmentReads } from './notifications.deps.ts';
import { registerScheduledJobs } from './notifications.digest.ts';
import { createDispatcher } from './notifications.dispatch.ts';
import { registerEventHandlers } from './notifications.events.ts';
import { createNotificationsPolicy } from './notifications.policy.ts';
import { createPreferences } from './notifications.preferences.ts';
import { preferenceRoutes } from './notifications.preferences.routes.ts';
import * as repo from './notifications.repository.ts';
import { notificationRoutes } from './notifications.routes.ts';
import { createNotificationsService } from './notifications.service.ts';

export type { EnrollmentReads, InactiveEnrollment } from './notifications.deps.ts';

/**
 * In-app and email notifications: seed 002's send and log, the inbox, preferences and unsubscribe
 * links, messages for other modules' events, scheduled sends, the daily digest and reminders.
 * Defines jobs and event consumers, so build it before jobs start.
 */
export function createNotificationsFeature(deps: {
  platform: Platform;
  identity: Pick<IdentityApi, 'getProfile' | 'registerExportContributor'>;
  catalog: CatalogReads;
  enrollment: EnrollmentReads;
  commerce: CommerceReads;
}) {
  const { platform, identity, catalog, enrollment, commerce } = deps;
  const preferences = createPreferences({ db: platform.db, signingSecret: platform.config.signingSecret });
  const policy = createNotificationsPolicy({ catalog, enrollment });
  const dispatcher = createDispatcher({ platform, identity, preferences, policy });
  const service = createNotificationsService({ db: platform.db, dispatcher, policy });
  registerEventHandlers({ platform, catalog, enrollment, commerce, dispatcher });
  registerScheduledJobs({ platform, catalog, enrollment, dispatcher });

  identity.registerExportContributor('notifications', async (userId) => ({
    ...(await repo.listAllForUser(platform.db, userId)),
    preferences: await preferences.get(userId),
  }));

  const routes: Array<(app: FastifyInstance, ctx: RouteContext) => Promise<void>> = [
    notificationRoutes(service),
    preferenceRoutes(preferences),
  ];
  return {
    routes,
    api: {
      /** The user's notification switches and digest setting. */
      getPreferences: preferences.get,
      /** How many in-app notifications the user has not read (badges, live updates). */
      countUnread: (userId: number) => repo.countUnread(platform.db, userId),
    },
  };
}
