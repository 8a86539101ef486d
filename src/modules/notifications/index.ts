import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { CommerceApi } from '../commerce/index.ts';
import type { EnrollmentApi } from '../enrollment/index.ts';
import type { IdentityApi } from '../identity/index.ts';
import { createWebhooksFeature } from './notifications.webhooks.feature.ts';
import { createNotificationsFeature } from './notifications.feature.ts';

export interface NotificationsDeps {
  platform: Platform;
  identity: IdentityApi;
  catalog: CatalogApi;
  enrollment: EnrollmentApi;
  commerce: CommerceApi;
}

type RoutePlugin = (app: FastifyInstance, ctx: RouteContext) => Promise<void>;

/**
 * The notifications module (seed 004): in-app and email notifications with templates, preferences
 * and a delivery log, reacting to other modules' events; and outbound webhooks for other systems.
 */
export function createNotificationsModule({
  platform,
  identity,
  catalog,
  enrollment,
  commerce,
}: NotificationsDeps) {
  const routePlugins: RoutePlugin[] = [];

  // ── notifications ──
  const inbox = createNotificationsFeature({ platform, identity, catalog, enrollment, commerce });
  routePlugins.push(...inbox.routes);
  // ── end notifications ──

  // ── webhooks ──
  const webhooks = createWebhooksFeature({ platform, identity, settings: platform.config.webhooks });
  routePlugins.push(webhooks.routes);
  // ── end webhooks ──

  void platform;
  void identity;
  void catalog;
  void enrollment;
  void commerce;
  return {
    api: {
      // ── api ──
      ...inbox.api,
      // ── end api ──
    },
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type NotificationsModule = ReturnType<typeof createNotificationsModule>;
export type NotificationsApi = NotificationsModule['api'];
