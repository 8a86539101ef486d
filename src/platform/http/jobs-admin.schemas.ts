import { z } from 'zod';
import { jobStates, originalQueueOf, type JobRecord } from '../jobs.ts';

const MAX_STRING = 120;
const MAX_ITEMS = 10;
const MAX_DEPTH = 4;

// Keys whose values are never shown: credentials, tokens, signatures.
const SECRET_KEY = /pass(word)?|secret|token|authori[sz]ation|cookie|api.?key|signature|otp|sealed|card|cvv/i;
// Keys holding message bodies: shown as their length only (they carry links with tokens, personal text).
const BODY_KEY = /^(text|html|body|content|message|headers|attachments?)$/i;
const EMAIL = /[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
// Long unbroken runs of token alphabet are likely keys or signed links.
const TOKEN_LIKE = /[A-Za-z0-9_-]{32,}/g;

const maskString = (value: string) => {
  const masked = value
    .replace(EMAIL, (_m, domain: string) => `***@${domain}`)
    .replace(/\?[^\s"']*/g, '?…')
    .replace(TOKEN_LIKE, '[redacted]');
  return masked.length > MAX_STRING ? `${masked.slice(0, MAX_STRING)}…` : masked;
};

/**
 * A job's data as operators may see it: secrets dropped, email addresses masked to their domain,
 * message bodies replaced by their length, long strings and arrays cut, nesting limited.
 */
export function summarizeJobData(value: unknown, key = '', depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (SECRET_KEY.test(key)) return '[redacted]';
  if (BODY_KEY.test(key)) {
    const size = typeof value === 'string' ? value.length : JSON.stringify(value).length;
    return `[${size} chars]`;
  }
  if (typeof value === 'string') return maskString(value);
  if (typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => summarizeJobData(v, '', depth + 1));
    return value.length > MAX_ITEMS ? [...items, `[${value.length - MAX_ITEMS} more]`] : items;
  }
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, summarizeJobData(v, k, depth + 1)]),
  );
}

/** The error message pg-boss kept for a failed attempt (a serialised Error), masked like data. */
function errorOf(job: JobRecord): string | null {
  const output = job.output as { message?: unknown; value?: unknown } | null;
  if (!output || (job.state !== 'failed' && job.state !== 'retry' && !originalQueueOf(job.queue)))
    return null;
  const message = typeof output.message === 'string' ? output.message : output.value;
  return typeof message === 'string' ? maskString(message.slice(0, 500)) : null;
}

export const jobState = z.enum(jobStates).meta({
  description:
    '`created` queued, `retry` waiting for its next attempt, `active` running, `completed`, `cancelled`, `failed` (no attempts left). Jobs in a dead-letter queue stay `created`: nothing consumes them.',
});

/** Opaque keyset cursor: base64url of `<position>.<id>` of the previous page's last job. */
export const encodeJobCursor = (job: JobRecord) =>
  Buffer.from(`${job.position}.${job.id}`).toString('base64url');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const cursor = z
  .string()
  .max(80)
  .transform((v, ctx) => {
    const [position, id, ...rest] = Buffer.from(v, 'base64url').toString('utf8').split('.');
    if (!position || !/^-?[0-9]{1,19}$/.test(position) || !id || !UUID.test(id) || rest.length) {
      ctx.addIssue({ code: 'custom', message: 'Invalid cursor' });
      return z.NEVER;
    }
    return { position, id };
  })
  .optional()
  .meta({ description: '`pageInfo.nextCursor` of the previous page' });

const queueName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'Must be a queue name')
  .meta({ example: 'platform.sendEmail' });

export const listJobsQuery = z.strictObject({
  queue: queueName.optional().meta({ description: 'Only this queue (dead-letter queues end in `.dead`)' }),
  state: jobState.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor,
});

export const jobIdParams = z.strictObject({
  id: z.string().regex(UUID, 'Must be a UUID').meta({ example: '0b8a6c2e-5d0f-4a4e-9a51-1f2d3c4b5a69' }),
});

export const jobView = z
  .object({
    id: z.string(),
    queue: z.string().meta({ example: 'notifications.deliverWebhook' }),
    deadLetterOf: z
      .string()
      .nullable()
      .meta({ description: 'For a job in a dead-letter queue: the queue it failed in' }),
    state: jobState,
    data: z.unknown().meta({
      description:
        'Summary of the job’s data: secrets removed, email addresses masked, message bodies replaced by their length',
    }),
    retryCount: z.number().int().meta({ description: 'Failed attempts so far' }),
    retryLimit: z.number().int().meta({ description: 'Retries allowed after the first attempt' }),
    createdOn: z.string(),
    startAfter: z.string().meta({ description: 'Not run before this time (the next retry, for `retry`)' }),
    startedOn: z.string().nullable(),
    completedOn: z.string().nullable(),
    error: z.string().nullable().meta({ description: 'The last failure’s message' }),
  })
  .meta({ id: 'Job' });

export const jobPage = z.object({
  items: z.array(jobView),
  pageInfo: z.object({ nextCursor: z.string().nullable(), hasMore: z.boolean() }),
});

const stateCounts = z.object(
  Object.fromEntries(jobStates.map((s) => [s, z.number().int()])) as Record<
    (typeof jobStates)[number],
    z.ZodNumber
  >,
);

export const jobStats = z.object({
  queues: z.array(
    z.object({
      queue: z.string(),
      deadLetterOf: z.string().nullable(),
      counts: stateCounts,
      total: z.number().int(),
    }),
  ),
  totals: stateCounts,
});

export function toJobView(job: JobRecord): z.infer<typeof jobView> {
  return {
    id: job.id,
    queue: job.queue,
    deadLetterOf: originalQueueOf(job.queue),
    state: job.state,
    data: summarizeJobData(job.data),
    retryCount: job.retryCount,
    retryLimit: job.retryLimit,
    createdOn: job.createdOn.toISOString(),
    startAfter: job.startAfter.toISOString(),
    startedOn: job.startedOn?.toISOString() ?? null,
    completedOn: job.completedOn?.toISOString() ?? null,
    error: errorOf(job),
  };
}
