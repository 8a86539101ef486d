import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import { createWebhookDelivery, type WebhookSettings } from './notifications.webhooks.delivery.ts';
import { webhookRoutes } from './notifications.webhooks.routes.ts';
import { scheduleWebhookPurge } from './notifications.webhooks.retention.ts';
import { createWebhookService } from './notifications.webhooks.service.ts';

export { DELIVER_WEBHOOK_JOB, type WebhookSettings } from './notifications.webhooks.delivery.ts';
export { PURGE_WEBHOOK_DELIVERIES_JOB } from './notifications.webhooks.retention.ts';
export { PING_EVENT, WEBHOOK_EVENTS } from './notifications.webhooks.schemas.ts';

/**
 * Outbound webhooks (for schools wiring Lectern into their other systems): admin-managed
 * endpoints, signed deliveries of domain events by retried jobs, a per-delivery log.
 */
export function createWebhooksFeature({
  platform,
  identity,
  settings,
}: {
  platform: Platform;
  identity: Pick<IdentityApi, 'audit' | 'listAdminContacts'>;
  settings: WebhookSettings;
}) {
  const policy = { allowPrivate: settings.allowPrivateTargets, requireHttps: platform.config.isProduction };
  const delivery = createWebhookDelivery({ platform, identity, settings, policy });
  const service = createWebhookService({ platform, identity, delivery, policy });
  scheduleWebhookPurge({
    db: platform.db,
    jobs: platform.jobs,
    logger: platform.logger,
    retentionDays: settings.retentionDays,
  });
  const plugin = webhookRoutes(service);
  return {
    async routes(app: FastifyInstance, ctx: RouteContext) {
      await app.register(plugin, ctx);
    },
  };
}
