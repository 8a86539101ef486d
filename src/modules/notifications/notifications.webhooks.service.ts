import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Conflict, NotFound, ValidationError } from '../../platform/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import type { WebhookDelivery, WebhookEnvelope } from './notifications.webhooks.delivery.ts';
import * as repo from './notifications.webhooks.repository.ts';
import { encodeIdCursor } from '../../platform/http/pagination.ts';
import {
  PING_EVENT,
  type CreateWebhookInput,
  type DeliveryStatus,
  type DeliveryView,
  type UpdateWebhookInput,
  type WebhookView,
} from './notifications.webhooks.schemas.ts';
import { newWebhookSecret } from './notifications.webhooks.signature.ts';
import { checkTargetUrl, TargetRefused, type TargetPolicy } from './notifications.webhooks.target.ts';

/** After a rotation the previous secret keeps signing this long. */
const ROTATION_OVERLAP_HOURS = 24;

/** Who made an admin change, for the audit log. */
export interface Actor {
  userId: number;
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

export interface WebhookServiceDeps {
  platform: Pick<Platform, 'db' | 'sealer'>;
  identity: Pick<IdentityApi, 'audit'>;
  delivery: Pick<WebhookDelivery, 'enqueue'>;
  policy: TargetPolicy;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function toWebhookView(row: repo.EndpointRow): WebhookView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    status: row.status,
    failingSince: iso(row.failingSince),
    disabledAt: iso(row.disabledAt),
    disabledReason: row.disabledReason,
    previousSecretExpiresAt:
      row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > Date.now()
        ? row.previousSecretExpiresAt.toISOString()
        : null,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function toDeliveryView(row: repo.DeliveryRow, attempts: repo.AttemptRow[]): DeliveryView {
  return {
    id: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    eventType: row.eventName,
    status: row.status,
    attemptCount: row.attempts,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    nextAttemptAt: iso(row.nextAttemptAt),
    payload: row.payload,
    createdAt: row.createdAt.toISOString(),
    deliveredAt: iso(row.deliveredAt),
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      statusCode: a.statusCode,
      error: a.error,
      responseSnippet: a.responseSnippet,
      durationMs: a.durationMs,
      createdAt: a.createdAt.toISOString(),
    })),
  };
}

/** Admin management of outbound webhook endpoints, their secrets and delivery log. */
export function createWebhookService({ platform, identity, delivery, policy }: WebhookServiceDeps) {
  const { db, sealer } = platform;

  async function checkedUrl(url: string): Promise<string> {
    try {
      return (await checkTargetUrl(url, policy)).href;
    } catch (err) {
      if (err instanceof TargetRefused)
        throw new ValidationError('Invalid input data', [{ field: 'body.url', message: err.message }]);
      throw err;
    }
  }

  async function endpointOr404(id: number) {
    const row = await repo.findEndpoint(db, id);
    if (!row) throw new NotFound('Webhook endpoint not found');
    return row;
  }

  const audit = (actor: Actor, action: string, endpointId: number, extra: Record<string, unknown> = {}) =>
    identity.audit({
      action,
      actorId: actor.userId,
      ip: actor.ip,
      userAgent: actor.userAgent,
      requestId: actor.requestId,
      success: true,
      detail: JSON.stringify({ endpointId, ...extra }),
    });

  /** Creates a delivery outside any event (ping, redelivery) and queues it, in one transaction. */
  async function queueManual(endpointId: number, envelope: WebhookEnvelope) {
    const id = await db.transaction(async (tx) => {
      const deliveryId = await repo.insertDelivery(tx, {
        endpointId,
        eventId: envelope.id,
        eventName: envelope.type,
        payload: envelope,
      });
      await delivery.enqueue(tx, deliveryId!, { manual: true });
      return deliveryId!;
    });
    return toDeliveryView((await repo.findDelivery(db, id))!, []);
  }

  return {
    async create(actor: Actor, input: CreateWebhookInput) {
      const url = await checkedUrl(input.url);
      const secret = newWebhookSecret();
      const row = await repo.insertEndpoint(db, {
        url,
        description: input.description || null,
        events: input.events,
        secretSealed: sealer.seal(secret),
        createdBy: actor.userId,
      });
      await audit(actor, 'webhook.created', row.id, { url, events: row.events });
      return { ...toWebhookView(row), secret };
    },

    async list(query: { limit: number; cursor?: number }) {
      const rows = await repo.listEndpoints(db, { limit: query.limit + 1, before: query.cursor });
      const page = rows.slice(0, query.limit);
      const hasMore = rows.length > query.limit;
      return {
        items: page.map(toWebhookView),
        pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
      };
    },

    get: async (id: number) => toWebhookView(await endpointOr404(id)),

    async update(actor: Actor, id: number, input: UpdateWebhookInput) {
      const current = await endpointOr404(id);
      const url = input.url !== undefined ? await checkedUrl(input.url) : undefined;
      const reenable = input.status === 'active' && current.status === 'disabled';
      const disable = input.status === 'disabled' && current.status === 'active';
      const row = await repo.updateEndpoint(db, id, {
        ...(url !== undefined ? { url } : {}),
        ...(input.events !== undefined ? { events: input.events } : {}),
        ...(input.description !== undefined ? { description: input.description || null } : {}),
        ...(reenable ? { status: 'active', disabledAt: null, disabledReason: null, failingSince: null } : {}),
        ...(disable
          ? { status: 'disabled', disabledAt: sql`now()`, disabledReason: 'Disabled by an administrator' }
          : {}),
      });
      if (!row) throw new NotFound('Webhook endpoint not found');
      await audit(actor, 'webhook.updated', id, { changed: Object.keys(input) });
      return toWebhookView(row);
    },

    async remove(actor: Actor, id: number) {
      if (!(await repo.deleteEndpoint(db, id))) throw new NotFound('Webhook endpoint not found');
      await audit(actor, 'webhook.deleted', id);
      return { id, deleted: true as const };
    },

    /** A new secret signs from now on; the old one signs too (second `v1`) for 24 hours. */
    async rotateSecret(actor: Actor, id: number) {
      const current = await endpointOr404(id);
      const secret = newWebhookSecret();
      const row = await repo.updateEndpoint(db, id, {
        secretSealed: sealer.seal(secret),
        previousSecretSealed: current.secretSealed,
        previousSecretExpiresAt: sql`now() + ${ROTATION_OVERLAP_HOURS} * interval '1 hour'`,
      });
      if (!row) throw new NotFound('Webhook endpoint not found');
      await audit(actor, 'webhook.secretRotated', id);
      return { ...toWebhookView(row), secret };
    },

    /** Queues a `webhook.ping` delivery (sent even to a disabled endpoint, to check it). */
    async sendTest(id: number) {
      const endpoint = await endpointOr404(id);
      const eventId = randomUUID();
      return queueManual(endpoint.id, {
        id: eventId,
        type: PING_EVENT,
        createdAt: new Date().toISOString(),
        data: { endpointId: endpoint.id, message: 'Webhook test from Lectern' },
      });
    },

    async listDeliveries(id: number, query: { status?: DeliveryStatus; limit: number; cursor?: number }) {
      await endpointOr404(id);
      const rows = await repo.listDeliveries(db, id, {
        status: query.status,
        limit: query.limit + 1,
        before: query.cursor,
      });
      const page = rows.slice(0, query.limit);
      const hasMore = rows.length > query.limit;
      const attempts = await repo.listAttempts(
        db,
        page.map((d) => d.id),
      );
      return {
        items: page.map((d) =>
          toDeliveryView(
            d,
            attempts.filter((a) => a.deliveryId === d.id),
          ),
        ),
        pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
      };
    },

    /**
     * Starts a new attempt series for a finished delivery (succeeded or dead), with the same
     * event id so the receiver can recognise a repeat. One still being retried is 409.
     */
    async redeliver(actor: Actor, id: number, deliveryId: number) {
      await endpointOr404(id);
      const existing = await repo.findDelivery(db, deliveryId);
      if (!existing || existing.endpointId !== id) throw new NotFound('Delivery not found');
      const reopened = await db.transaction(async (tx) => {
        const row = await repo.reopenDelivery(tx, deliveryId);
        if (row) await delivery.enqueue(tx, row.id, { manual: true, series: row.series });
        return row;
      });
      if (!reopened) throw new Conflict(`The delivery is still ${existing.status}; wait for it to finish`);
      await audit(actor, 'webhook.redelivered', id, { deliveryId });
      const attempts = await repo.listAttempts(db, [deliveryId]);
      return toDeliveryView(reopened, attempts);
    },
  };
}
export type WebhookService = ReturnType<typeof createWebhookService>;
