import type { DbOrTx } from '../../platform/db.ts';
import type { JobContext } from '../../platform/jobs.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import * as repo from './notifications.webhooks.repository.ts';
import { WEBHOOK_EVENTS } from './notifications.webhooks.schemas.ts';
import { postWebhook, type SendResult } from './notifications.webhooks.sender.ts';
import { signatureHeader } from './notifications.webhooks.signature.ts';
import type { TargetPolicy } from './notifications.webhooks.target.ts';

export const DELIVER_WEBHOOK_JOB = 'notifications.deliverWebhook';
/** An endpoint whose deliveries have all failed for this long is disabled. */
const DISABLE_AFTER_SECONDS = 24 * 3600;
const TIMEOUT_MS = 10_000;
/** How long after an endpoint is disabled its missed events are still logged for redelivery. */
const MISSED_LOG_SECONDS = 7 * 24 * 3600;
const DISABLED_NOTE = 'Not sent: the endpoint was disabled. Redeliver it once the endpoint is active again.';

export interface WebhookSettings {
  /** Delay before the first retry; each retry doubles it, plus up to 100% jitter (pg-boss backoff). */
  retryDelaySeconds: number;
  /** Retries after the first attempt before a delivery is `dead`. */
  retryLimit: number;
  /** Whether endpoints may target private, loopback, link-local, CGNAT addresses. */
  allowPrivateTargets: boolean;
  /** Days a finished delivery is kept after its last activity (see notifications.webhooks.retention.ts). */
  retentionDays: number;
}

/** The JSON body every delivery carries. */
export interface WebhookEnvelope {
  id: string;
  type: string;
  createdAt: string;
  data: unknown;
}

interface DeliverJob {
  deliveryId: number;
  /** Sent by an admin (test ping, redelivery): goes out even while the endpoint is disabled. */
  manual?: boolean;
  /** The delivery's attempt series this job belongs to (absent: the first). */
  series?: number;
}

export interface WebhookDeliveryDeps {
  platform: Pick<Platform, 'db' | 'jobs' | 'events' | 'sealer' | 'mailer' | 'logger' | 'config'>;
  identity: Pick<IdentityApi, 'listAdminContacts'>;
  settings: WebhookSettings;
  policy: TargetPolicy;
}

class WebhookDeliveryFailed extends Error {
  constructor(deliveryId: number, result: SendResult) {
    super(`Webhook delivery ${deliveryId} failed: ${result.error ?? `HTTP ${result.statusCode}`}`);
    this.name = 'WebhookDeliveryFailed';
  }
}

/**
 * Fan-out and delivery. Each subscribed event becomes one delivery row per matching active
 * endpoint plus a job, in the consumer's transaction (a crash never loses or doubles one). The
 * job signs and POSTs it; a non-2xx answer fails the job, and pg-boss retries it with backoff.
 */
export function createWebhookDelivery({ platform, identity, settings, policy }: WebhookDeliveryDeps) {
  const { db, jobs, sealer, logger } = platform;

  /**
   * The longest pause between two failures of a streak that is still one streak: the longest wait
   * between two retries of one delivery (the last backoff step, doubled for jitter), from 1 to 24 h.
   */
  const streakGapSeconds = Math.min(
    Math.max(
      // A quarter and 10 minutes more for the attempt itself, polling and a worker restart.
      settings.retryDelaySeconds * 2 ** Math.max(settings.retryLimit - 1, 0) * 2 * 1.25 + 600,
      3600,
    ),
    DISABLE_AFTER_SECONDS,
  );

  const enqueue = (tx: DbOrTx, deliveryId: number, options: { manual?: boolean; series?: number } = {}) =>
    jobs.send<DeliverJob>(
      DELIVER_WEBHOOK_JOB,
      {
        deliveryId,
        ...(options.manual ? { manual: true } : {}),
        ...(options.series && options.series > 1 ? { series: options.series } : {}),
      },
      { tx },
    );

  for (const event of WEBHOOK_EVENTS) {
    platform.events.subscribe<unknown>({
      event,
      consumer: `notifications.fanOutWebhooks.${event}`,
      handle: async (e, tx) => {
        const envelope: WebhookEnvelope = {
          id: e.id,
          type: e.name,
          createdAt: e.occurredAt,
          data: e.payload,
        };
        for (const endpoint of await repo.endpointsSubscribedTo(tx, event)) {
          const active = endpoint.status === 'active';
          // A disabled endpoint's events are logged (dead, no job) for a week after it was
          // disabled, so what it missed can be redelivered once it works again; an endpoint left
          // disabled longer is presumably retired and its log stops growing.
          if (
            !active &&
            (!endpoint.disabledAt || Date.now() - endpoint.disabledAt.getTime() > MISSED_LOG_SECONDS * 1000)
          )
            continue;
          const deliveryId = await repo.insertDelivery(tx, {
            endpointId: endpoint.id,
            eventId: e.id,
            eventName: e.name,
            payload: envelope,
            ...(active ? {} : { status: 'dead' as const, lastError: DISABLED_NOTE }),
          });
          if (deliveryId !== undefined && active) await enqueue(tx, deliveryId);
        }
      },
    });
  }

  /** The secrets that sign now: the current one, and the previous one until it expires. */
  function signingSecrets(endpoint: repo.EndpointRow): string[] {
    const secrets = [sealer.open(endpoint.secretSealed)];
    if (
      endpoint.previousSecretSealed &&
      endpoint.previousSecretExpiresAt &&
      endpoint.previousSecretExpiresAt.getTime() > Date.now()
    )
      secrets.push(sealer.open(endpoint.previousSecretSealed));
    return secrets;
  }

  async function attempt(delivery: repo.DeliveryRow, endpoint: repo.EndpointRow): Promise<SendResult> {
    const p = delivery.payload as WebhookEnvelope;
    const body = JSON.stringify({ id: p.id, type: p.type, createdAt: p.createdAt, data: p.data });
    let secrets: string[];
    try {
      secrets = signingSecrets(endpoint);
    } catch {
      const error = 'The signing secret cannot be decrypted (was ENCRYPTION_KEY changed?)';
      return { statusCode: null, ok: false, error, responseSnippet: null, durationMs: 0 };
    }
    const timestamp = Math.floor(Date.now() / 1000);
    return postWebhook(
      endpoint.url,
      body,
      {
        'User-Agent': 'Lectern-Webhooks/1',
        'Lectern-Event-Id': p.id,
        'Lectern-Event-Type': p.type,
        'Lectern-Delivery-Id': String(delivery.id),
        'Lectern-Signature': signatureHeader(secrets, timestamp, body),
      },
      { policy, timeoutMs: TIMEOUT_MS },
    );
  }

  async function deliver(data: DeliverJob, job: JobContext) {
    const delivery = await repo.findDelivery(db, data.deliveryId);
    if (!delivery || delivery.status === 'succeeded') return;
    // Superseded by a redelivery: that series sends; this job stops (and is not retried).
    const series = data.series ?? 1;
    if (series !== delivery.series) return;
    const endpoint = await repo.findEndpoint(db, delivery.endpointId);
    if (!endpoint) return;
    if (endpoint.status !== 'active' && !data.manual) {
      await repo.markDeliveryDead(db, delivery.id, series, DISABLED_NOTE);
      return;
    }

    const result = await attempt(delivery, endpoint);
    const final = job.retryCount >= job.retryLimit;
    // Read before the transaction: the admins are only needed when a streak may pass 24 h now.
    const admins =
      !result.ok && endpoint.status === 'active' && endpoint.failingSince
        ? await identity.listAdminContacts()
        : [];

    const outcome = await db.transaction(async (tx) => {
      // A redelivery may have started a new series while this attempt was on the wire: then this
      // outcome is not recorded (nor counted against the endpoint), and the job stops.
      if ((await repo.lockDeliverySeries(tx, delivery.id)) !== series) return 'superseded' as const;
      let disabled: repo.EndpointRow | undefined;
      if (result.ok) await repo.clearFailingSince(tx, endpoint.id);
      else {
        await repo.markFailing(tx, endpoint.id, streakGapSeconds);
        disabled = await repo.disableIfFailingFor(
          tx,
          endpoint.id,
          DISABLE_AFTER_SECONDS,
          `Every delivery failed for 24 hours (last: ${result.error ?? `HTTP ${result.statusCode}`})`.slice(
            0,
            300,
          ),
        );
      }
      const status = result.ok ? 'succeeded' : final || (disabled && !data.manual) ? 'dead' : 'failed';
      const recorded = await repo.recordAttempt(tx, delivery.id, {
        status,
        statusCode: result.statusCode,
        error: result.error,
        responseSnippet: result.responseSnippet,
        durationMs: result.durationMs,
        nextAttemptAt:
          status === 'failed'
            ? new Date(Date.now() + settings.retryDelaySeconds * 1000 * 2 ** job.retryCount)
            : null,
      });
      if (disabled && recorded !== undefined) {
        for (const admin of admins) {
          if (!admin.email) continue;
          await platform.mailer.send(
            {
              ...disabledEmail(disabled, result, admin.name),
              to: admin.email,
              idempotencyKey: `webhook-disabled:${disabled.id}:${disabled.disabledAt!.getTime()}:${admin.userId}`,
            },
            { tx },
          );
        }
      }
      return Boolean(disabled);
    });
    if (outcome === 'superseded') return;
    const disabledNow = outcome;

    if (disabledNow)
      logger.warn({ endpointId: endpoint.id }, 'webhook endpoint disabled after 24 h of failures');
    // Throwing hands the retry to pg-boss (backoff, then the dead-letter queue); a just-disabled
    // endpoint gets no more retries.
    if (!result.ok && !(disabledNow && !data.manual)) throw new WebhookDeliveryFailed(delivery.id, result);
  }

  jobs.define<DeliverJob>({
    name: DELIVER_WEBHOOK_JOB,
    handler: deliver,
    retryLimit: settings.retryLimit,
    retryDelaySeconds: settings.retryDelaySeconds,
    retryBackoff: true,
    // One attempt takes at most the 10 s timeout; a worker that died mid-attempt frees the job soon.
    expireInSeconds: 120,
    concurrency: 2,
  });

  return {
    /** Queues a delivery attempt series inside `tx`. */
    enqueue,
  };
}
export type WebhookDelivery = ReturnType<typeof createWebhookDelivery>;

function disabledEmail(endpoint: repo.EndpointRow, result: SendResult, name: string) {
  const label = endpoint.description ? `"${endpoint.description}" (${endpoint.url})` : endpoint.url;
  const since = endpoint.failingSince?.toISOString() ?? 'more than 24 hours';
  return {
    subject: `Webhook endpoint disabled: ${new URL(endpoint.url).host}`,
    text: [
      `Hello ${name},`,
      '',
      `Lectern has stopped sending webhooks to endpoint #${endpoint.id}, ${label}: every delivery to it has failed since ${since}.`,
      '',
      `Last error: ${result.error ?? `HTTP ${result.statusCode}`}`,
      '',
      'Events are no longer delivered to it. Once the receiver works again, re-enable the endpoint',
      `(PATCH /api/admin/webhooks/${endpoint.id} with {"status": "active"}) and redeliver what it missed`,
      `from its delivery log (GET /api/admin/webhooks/${endpoint.id}/deliveries).`,
      '',
      '— Lectern',
    ].join('\n'),
  };
}
