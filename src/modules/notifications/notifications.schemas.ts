import { z } from 'zod';
import { idCursor as cursor, pageInfo } from '../../platform/http/pagination.ts';

const MAX_INT = 2_147_483_647;
const id = z.number().int().positive().max(MAX_INT);
const isoDate = z.string().meta({ example: '2025-07-28T18:07:00.000Z' });

const oneLine = (s: string) => !/[\r\n]/.test(s);

export const channelSchema = z.enum(['email', 'in_app', 'push']);

export const sendBody = z.strictObject({
  userId: id.meta({ example: 42, description: 'The recipient' }),
  type: channelSchema.meta({
    description:
      '`in_app`: the recipient’s inbox; `email`: a templated email sent by a job; `push`: recorded, but not delivered while no push provider is configured (delivery status `skipped`).',
  }),
  message: z.string().trim().min(1).max(5000).meta({ example: 'The live session moves to 18:00 today.' }),
  title: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine(oneLine, 'The title must be one line')
    .optional()
    .meta({ description: 'Subject line / in-app title; defaults to “Message from <sender>”' }),
  sendAt: z.iso
    .datetime({ offset: true })
    .refine((v) => Date.parse(v) > Date.now(), 'Must be in the future')
    .refine((v) => Date.parse(v) < Date.now() + 366 * 86_400_000, 'At most one year ahead')
    .optional()
    .meta({ example: '2030-01-01T09:00:00Z', description: 'Deliver later instead of now (ISO 8601)' }),
});
export type SendInput = z.infer<typeof sendBody>;

export const sendResult = z.object({
  notificationId: z.number().int().meta({ example: 1 }),
  message: z.string().meta({ example: 'Notification sent successfully' }),
  deliveryStatus: z.enum(['pending', 'sent', 'failed', 'skipped']).meta({
    description:
      '`sent` (in-app, delivered), `pending` (email queued, or scheduled), `skipped` (push without a provider, or the recipient turned this channel off)',
  }),
  scheduledFor: isoDate.nullable(),
});

export const logQuery = z.strictObject({
  userId: z.coerce
    .number()
    .int()
    .positive()
    .max(MAX_INT)
    .optional()
    .meta({ description: 'Whose log; defaults to the caller. Only admins may read other users’ logs.' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor,
});

export const logEntry = z.object({
  logId: z.number().int(),
  notificationId: z.number().int(),
  deliveryStatus: z.enum(['pending', 'sent', 'failed', 'skipped']),
  deliveredAt: isoDate.nullable(),
  channel: channelSchema,
  attempt: z.number().int().meta({ description: '1 for the first attempt; each retry has its own row' }),
  providerResponse: z
    .string()
    .nullable()
    .meta({ description: 'The SMTP server’s answer, or why the delivery was skipped', example: '250 OK' }),
  error: z.string().nullable(),
  createdAt: isoDate,
});
export const logResult = z.object({ logs: z.array(logEntry), pageInfo });

export const inboxQuery = z.strictObject({
  unreadOnly: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .default(false),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor,
});

export const inboxItem = z.object({
  notificationId: z.number().int(),
  category: z.enum(['account', 'course_updates', 'payments', 'reminders', 'marketing']),
  template: z.string().meta({ example: 'enrollment_confirmation' }),
  title: z.string(),
  body: z.string(),
  data: z
    .record(z.string(), z.unknown())
    .meta({ description: 'Template variables and links (course ids, URLs)' }),
  senderId: z.number().int().nullable(),
  isRead: z.boolean(),
  readAt: isoDate.nullable(),
  createdAt: isoDate,
});
export const inboxPage = z.object({ items: z.array(inboxItem), unreadCount: z.number().int(), pageInfo });

export const notificationIdParams = z.strictObject({
  id: z.coerce.number().int().positive().max(MAX_INT),
});
export const readResult = z.object({
  notificationId: z.number().int(),
  readAt: isoDate,
  unreadCount: z.number().int(),
});
export const readAllResult = z.object({ updated: z.number().int(), unreadCount: z.number().int() });
