import { z } from 'zod';
import { idCursor as cursor, pageInfo, pageLimit as limit } from '../../platform/http/pagination.ts';
import { USER_REGISTERED } from '../identity/index.ts';
import { COURSE_PUBLISHED } from '../catalog/index.ts';
import { ORDER_REFUNDED, PAYMENT_FAILED, PAYMENT_SUCCEEDED } from '../commerce/index.ts';
import { ENROLLMENT_CREATED, ENROLLMENT_REVOKED } from '../enrollment/index.ts';

/** Domain events an endpoint may subscribe to; each is sent as `{ id, type, createdAt, data }`. */
export const WEBHOOK_EVENTS = [
  ENROLLMENT_CREATED,
  ENROLLMENT_REVOKED,
  PAYMENT_SUCCEEDED,
  PAYMENT_FAILED,
  ORDER_REFUNDED,
  USER_REGISTERED,
  COURSE_PUBLISHED,
] as const;
/** Sent by `POST /api/admin/webhooks/{id}/test` only; endpoints need not subscribe to it. */
export const PING_EVENT = 'webhook.ping';

const MAX_ID = 2_147_483_647;
const id = z.coerce.number().int().positive().max(MAX_ID);

const eventName = z.string().refine((v) => (WEBHOOK_EVENTS as readonly string[]).includes(v), {
  message: `Unknown event; supported: ${WEBHOOK_EVENTS.join(', ')}`,
});
const events = z
  .array(eventName)
  .min(1, 'Subscribe to at least one event')
  .max(WEBHOOK_EVENTS.length)
  .refine((list) => new Set(list).size === list.length, 'Events must not repeat')
  .meta({
    example: [ENROLLMENT_CREATED, PAYMENT_SUCCEEDED],
    description: `Any of: ${WEBHOOK_EVENTS.join(', ')}`,
  });
const url = z.string().trim().min(1, 'Required').max(2048).meta({
  example: 'https://erp.school.example/hooks/lectern',
  description:
    'http(s) URL (https in production) on a public address: private, loopback, link-local, CGNAT and multicast targets are refused unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is set. Redirects are not followed.',
});
const description = z.string().trim().max(300).meta({ example: 'Student records sync' });

export const webhookIdParams = z.strictObject({ id });
export const deliveryParams = z.strictObject({ id, deliveryId: id });
export const listWebhooksQuery = z.strictObject({ limit, cursor });

export const deliveryStatus = z.enum(['pending', 'succeeded', 'failed', 'dead']).meta({
  description:
    '`pending` not tried yet, `failed` the last attempt failed and a retry is scheduled, `succeeded` (2xx), `dead` every retry failed',
});
export const listDeliveriesQuery = z.strictObject({ status: deliveryStatus.optional(), limit, cursor });

export const createWebhookBody = z.strictObject({ url, events, description: description.optional() });
export const updateWebhookBody = z
  .strictObject({
    url: url.optional(),
    events: events.optional(),
    description: description.nullable().optional(),
    status: z
      .enum(['active', 'disabled'])
      .optional()
      .meta({ description: '`active` re-enables a disabled endpoint (its failure streak starts over)' }),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'Provide a field to change' });

export const webhookView = z
  .object({
    id: z.number().int(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    status: z.enum(['active', 'disabled']),
    failingSince: z
      .string()
      .nullable()
      .meta({ description: 'Start of the current failure streak; 24 h of failures disables the endpoint' }),
    disabledAt: z.string().nullable(),
    disabledReason: z.string().nullable(),
    previousSecretExpiresAt: z
      .string()
      .nullable()
      .meta({ description: 'Until then the previous secret signs too (a second `v1`) after a rotation' }),
    createdBy: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' });

export const webhookWithSecret = webhookView
  .extend({
    secret: z.string().meta({
      example: 'whsec_0f3Jr9r5pQ0mH2yXxv1c9w3k8Yb6sT4eZ7uA2nL5dR8',
      description: 'The signing secret. Shown only now: store it with the receiver.',
    }),
  })
  .meta({ id: 'WebhookEndpointWithSecret' });

export const webhookPage = z.object({ items: z.array(webhookView), pageInfo });

export const attemptView = z.object({
  attempt: z.number().int(),
  statusCode: z.number().int().nullable().meta({ description: 'null when no HTTP answer came' }),
  error: z.string().nullable(),
  responseSnippet: z.string().nullable().meta({ description: 'The first 500 characters of the answer' }),
  durationMs: z.number().int(),
  createdAt: z.string(),
});

export const deliveryView = z
  .object({
    id: z.number().int(),
    endpointId: z.number().int(),
    eventId: z.string().meta({ description: 'Also sent as `Lectern-Event-Id`: receivers dedupe on it' }),
    eventType: z.string(),
    status: deliveryStatus,
    attemptCount: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: z
      .string()
      .nullable()
      .meta({ description: 'Earliest time of the next retry (jitter may add up to as much again)' }),
    payload: z.unknown().meta({ description: 'The JSON body sent: `{ id, type, createdAt, data }`' }),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    attempts: z.array(attemptView).meta({ description: 'Every attempt, oldest first' }),
  })
  .meta({ id: 'WebhookDelivery' });

export const deliveryPage = z.object({ items: z.array(deliveryView), pageInfo });
export const deletedResult = z.object({ id: z.number().int(), deleted: z.literal(true) });
export const eventList = z.object({ events: z.array(z.string()) });

export type CreateWebhookInput = z.infer<typeof createWebhookBody>;
export type UpdateWebhookInput = z.infer<typeof updateWebhookBody>;
export type WebhookView = z.infer<typeof webhookView>;
export type DeliveryView = z.infer<typeof deliveryView>;
export type DeliveryStatus = z.infer<typeof deliveryStatus>;
