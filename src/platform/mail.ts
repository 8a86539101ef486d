import { createHash } from 'node:crypto';
import { and, desc, lt, sql, type SQL } from 'drizzle-orm';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import type { Config } from './config.ts';
import type { Database, DbOrTx } from './db.ts';
import { ValidationError } from './errors.ts';
import { responses, successBody } from './http/envelope.ts';
import type { Jobs } from './jobs.ts';
import type { Logger } from './logger.ts';
import { devMailbox } from './platform.tables.ts';

export const SEND_EMAIL_JOB = 'platform.sendEmail';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  replyTo?: string;
  headers?: Record<string, string>;
  /** caller-chosen id for idempotency, e.g. `verify-email:42` */
  idempotencyKey?: string;
  /** Passed to delivery listeners with each attempt's outcome (e.g. `notification:17`). */
  trackingId?: string;
}

/** The outcome of one delivery attempt, for delivery logs (see `Mailer.onAttempt`). */
export interface MailAttempt {
  trackingId: string;
  jobId: string;
  /** 1 for the first attempt. */
  attempt: number;
  ok: boolean;
  /** The SMTP server's answer (e.g. `250 2.0.0 OK`), or `stored in dev mailbox`. */
  response: string | null;
  error: string | null;
  /** Whether the job will be retried after this failed attempt. */
  willRetry: boolean;
}

/** A message kept by the embedded transport, as the dev mailbox shows it. */
export interface MailboxItem {
  id: number;
  jobId: string;
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string | null;
  headers: Record<string, string>;
  /** ISO 8601 UTC */
  createdAt: string;
}

export interface Mailer {
  readonly transport: 'smtp' | 'mailbox';
  /** Enqueues the message as a `platform.sendEmail` job; with `tx`, it is sent only if that transaction commits. Returns the job id (null if deduplicated by idempotencyKey). */
  send(message: MailMessage, options?: { tx?: DbOrTx }): Promise<string | null>;
  /**
   * Registers a listener told about every attempt to deliver a message that has a `trackingId`
   * (call while modules are built). A listener's failure is logged, never fails the delivery.
   */
  onAttempt(listener: (attempt: MailAttempt) => Promise<void>): void;
  /** Dev mailbox reads (embedded transport only). */
  listMailbox(filter: {
    to?: string;
    limit: number;
    cursor?: number;
  }): Promise<{ items: MailboxItem[]; nextCursor: number | null }>;
}

const noLineBreaks = (s: string) => !/[\r\n]/.test(s);

// Header names and values end up verbatim in the SMTP stream: line breaks would let a caller inject headers.
const messageSchema = z.object({
  to: z.email().max(254),
  subject: z.string().trim().min(1).max(300).refine(noLineBreaks, 'Subject must be one line'),
  text: z.string().min(1).max(1_000_000),
  html: z.string().min(1).max(2_000_000).optional(),
  replyTo: z.email().max(254).optional(),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'Invalid header name'),
      z.string().max(998).refine(noLineBreaks, 'Header values must be one line'),
    )
    .optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
  trackingId: z.string().min(1).max(200).optional(),
});
/** What the job carries: the validated message without the idempotency key, which only shapes the job id. */
type SendEmailJob = Omit<z.infer<typeof messageSchema>, 'idempotencyKey'>;

// Fixed namespace so the same key maps to the same job id in every process and release.
const IDEMPOTENCY_NAMESPACE = Buffer.from('6f1d3c52a8e94b0f9d2e7a41c0b85e13', 'hex');

/** A name-based (RFC 4122 version 5) UUID: the same idempotency key always yields the same job id. */
export function idempotencyJobId(key: string): string {
  const bytes = createHash('sha1').update(IDEMPOTENCY_NAMESPACE).update(key, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/**
 * The platform mailer. Every email goes through a durable job, so a crash or an SMTP outage
 * delays mail but never loses it, and mail about a state change leaves only if that change commits.
 */
export function createMailer(opts: {
  config: Config['mail'];
  database: Database;
  jobs: Jobs;
  logger: Logger;
}): Mailer {
  const { config, database, jobs, logger } = opts;
  const transport = config.smtpUrl ? ('smtp' as const) : ('mailbox' as const);
  let smtp: ReturnType<typeof nodemailer.createTransport> | undefined;
  const fromDomain = /@([^@\s>]+)>?\s*$/.exec(config.from)?.[1] ?? 'lectern.local';

  // Short timeouts: a hung server should fail the attempt and let the job back off, not hold a worker for minutes.
  const smtpTransport = (url: string) =>
    (smtp ??= nodemailer.createTransport({
      url,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    }));

  const listeners: Array<(attempt: MailAttempt) => Promise<void>> = [];
  const retryLimit = 8;

  async function tellListeners(attempt: MailAttempt) {
    for (const listener of listeners) {
      await listener(attempt).catch((err) =>
        logger.error({ err, jobId: attempt.jobId }, 'mail listener failed'),
      );
    }
  }

  async function deliver(message: SendEmailJob, job: { id: string; retryCount: number }) {
    const { trackingId, ...mail } = message;
    let response: string;
    try {
      response = await transmit(mail, job);
    } catch (err) {
      if (trackingId) {
        await tellListeners({
          trackingId,
          jobId: job.id,
          attempt: job.retryCount + 1,
          ok: false,
          response: (err as { response?: string }).response ?? null,
          error: (err as Error).message.slice(0, 500),
          willRetry: job.retryCount < retryLimit,
        });
      }
      throw err;
    }
    if (trackingId) {
      await tellListeners({
        trackingId,
        jobId: job.id,
        attempt: job.retryCount + 1,
        ok: true,
        response,
        error: null,
        willRetry: false,
      });
    }
  }

  /** Sends one message through the configured transport; returns the server's answer. */
  async function transmit(
    message: Omit<SendEmailJob, 'trackingId'>,
    job: { id: string; retryCount: number },
  ) {
    let response = 'stored in dev mailbox';
    if (config.smtpUrl) {
      const info = await smtpTransport(config.smtpUrl).sendMail({
        from: config.from,
        // Derived from the job id, so a retry after an unacknowledged delivery carries the same id and receivers can drop the duplicate.
        messageId: `<${job.id}@${fromDomain}>`,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html ? { html: message.html } : {}),
        ...(message.replyTo ? { replyTo: message.replyTo } : {}),
        ...(message.headers ? { headers: message.headers } : {}),
      });
      response = String(info.response ?? '');
    } else {
      await database.db
        .insert(devMailbox)
        .values({
          jobId: job.id,
          to: message.to,
          from: config.from,
          subject: message.subject,
          text: message.text,
          html: message.html ?? null,
          headers: message.headers ?? {},
        })
        .onConflictDoNothing({ target: devMailbox.jobId });
    }
    logger.info(
      {
        jobId: job.id,
        transport,
        toDomain: domainOf(message.to),
        subjectLength: message.subject.length,
        retryCount: job.retryCount,
      },
      'email sent',
    );
    return response;
  }

  jobs.define<SendEmailJob>({ name: SEND_EMAIL_JOB, handler: deliver, retryLimit, concurrency: 2 });

  return {
    transport,

    onAttempt(listener) {
      listeners.push(listener);
    },

    async send(message, options = {}) {
      const parsed = messageSchema.safeParse(message);
      if (!parsed.success) {
        throw new ValidationError(
          'Invalid email message',
          parsed.error.issues.map((i) => ({
            field: i.path.map(String).join('.') || 'message',
            message: i.message,
          })),
        );
      }
      const { idempotencyKey, ...data } = parsed.data;
      return jobs.send(SEND_EMAIL_JOB, data, {
        ...(options.tx ? { tx: options.tx } : {}),
        ...(idempotencyKey ? { id: idempotencyJobId(idempotencyKey) } : {}),
      });
    },

    async listMailbox({ to, limit, cursor }) {
      const conditions: SQL[] = [];
      if (to) conditions.push(sql`lower(${devMailbox.to}) = ${to.toLowerCase()}`);
      if (cursor !== undefined) conditions.push(lt(devMailbox.id, cursor));
      const rows = await database.db
        .select()
        .from(devMailbox)
        .where(conditions.length ? and(...conditions) : undefined)
        .orderBy(desc(devMailbox.id))
        .limit(limit + 1);
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
        nextCursor: rows.length > limit ? page.at(-1)!.id : null,
      };
    },
  };
}

const mailboxItemSchema = z
  .object({
    id: z.number().int(),
    jobId: z.string(),
    to: z.string(),
    from: z.string(),
    subject: z.string(),
    text: z.string(),
    html: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
    createdAt: z.string().meta({ example: '2025-07-28T18:07:00.000Z' }),
  })
  .meta({ id: 'DevMailboxItem' });

/** `GET /mailbox` (under `/api/dev`): the embedded transport's mail, registered only outside production. */
export const devMailboxRoutes: FastifyPluginAsync<{ mailer: Mailer }> = async (app, { mailer }) => {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/mailbox',
    {
      schema: {
        operationId: 'listDevMailbox',
        tags: ['dev'],
        summary: 'List emails kept by the development mailbox (not available in production)',
        description:
          'Exists only when the server does not run in production. Without `SMTP_URL`, every email the platform sends ' +
          'is kept here instead of being delivered; with SMTP configured the list stays empty. Newest first, keyset ' +
          'pagination by `cursor`. No authentication: never expose a non-production server to untrusted networks.',
        querystring: z.object({
          to: z.email().optional().describe('Only mail to this address (case-insensitive)'),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.coerce
            .number()
            .int()
            .positive()
            .optional()
            .describe('`pageInfo.nextCursor` of the previous page'),
        }),
        response: responses({
          data: z.object({
            items: z.array(mailboxItemSchema),
            pageInfo: z.object({ nextCursor: z.string().nullable(), hasMore: z.boolean() }),
          }),
        }),
      },
    },
    async (request) => {
      const { to, limit, cursor } = request.query;
      const page = await mailer.listMailbox({
        limit,
        ...(to ? { to } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      return successBody({
        items: page.items,
        pageInfo: {
          nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
          hasMore: page.nextCursor !== null,
        },
      });
    },
  );
};
