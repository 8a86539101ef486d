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
/**
 * Attachments travel inside the send job's row until delivery, so they are kept small: receipts
 * and certificates, not course material (link to storage for anything bigger).
 */
export const MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024;
export const MAX_ATTACHMENTS = 10;
/**
 * The dev mailbox keeps the description of a message's attachments in its headers record under
 * this reserved name (a JSON array; callers cannot set it); listMailbox returns it as `attachments`.
 */
const ATTACHMENTS_KEY = 'x-lectern-attachments';

/** A file sent with a message; `contentBase64` is the file's bytes in base64. */
export interface MailAttachment {
  filename: string;
  contentType: string;
  contentBase64: string;
}

/** What the dev mailbox keeps of an attachment (not its content). */
export interface MailAttachmentInfo {
  filename: string;
  contentType: string;
  size: number;
  /** SHA-256 of the content, hex: lets a test compare it with the file it expected. */
  sha256: string;
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  replyTo?: string;
  headers?: Record<string, string>;
  /** Files to attach, at most MAX_ATTACHMENTS and MAX_ATTACHMENT_BYTES in all (decoded). */
  attachments?: MailAttachment[];
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
  attachments: MailAttachmentInfo[];
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
/** Decoded size of canonical base64 text. */
const base64Bytes = (b64: string) =>
  (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);

// File names end up in MIME headers: no line breaks or control characters, no paths.
const attachmentSchema = z.object({
  filename: z
    .string()
    .min(1)
    .max(200)
    .refine(
      (name) => ![...name].some((c) => c < ' ' || c === '\x7f' || c === '/' || c === '\\'),
      'File name must not contain control characters or slashes',
    ),
  contentType: z
    .string()
    .max(100)
    .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i, 'Invalid content type'),
  contentBase64: z
    .string()
    .min(4)
    .max(Math.ceil(MAX_ATTACHMENT_BYTES / 3) * 4)
    .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'Content must be base64'),
});

// Header names and values end up verbatim in the SMTP stream: line breaks would let a caller inject headers.
const messageSchema = z.object({
  to: z.email().max(254),
  subject: z.string().trim().min(1).max(300).refine(noLineBreaks, 'Subject must be one line'),
  text: z.string().min(1).max(1_000_000),
  html: z.string().min(1).max(2_000_000).optional(),
  replyTo: z.email().max(254).optional(),
  headers: z
    .record(
      z
        .string()
        .regex(/^[A-Za-z0-9-]{1,64}$/, 'Invalid header name')
        .refine((name) => name.toLowerCase() !== ATTACHMENTS_KEY, 'Reserved header name'),
      z.string().max(998).refine(noLineBreaks, 'Header values must be one line'),
    )
    .optional(),
  attachments: z
    .array(attachmentSchema)
    .max(MAX_ATTACHMENTS)
    .refine(
      (list) => list.reduce((sum, a) => sum + base64Bytes(a.contentBase64), 0) <= MAX_ATTACHMENT_BYTES,
      `Attachments must not exceed ${MAX_ATTACHMENT_BYTES} bytes in all`,
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

const attachmentInfoList = z.array(
  z.object({ filename: z.string(), contentType: z.string(), size: z.number(), sha256: z.string() }),
);

/** Splits the stored headers record into the message's headers and its attachments. */
function fromStoredHeaders(stored: Record<string, string>) {
  const { [ATTACHMENTS_KEY]: described, ...headers } = stored;
  let attachments: MailAttachmentInfo[] = [];
  if (described) {
    const parsed = attachmentInfoList.safeParse(JSON.parse(described));
    if (parsed.success) attachments = parsed.data;
  }
  return { headers, attachments };
}

/** The dev mailbox's record of an attachment: name, type, size and hash of the decoded bytes. */
function describeAttachment(a: MailAttachment): MailAttachmentInfo {
  const bytes = Buffer.from(a.contentBase64, 'base64');
  return {
    filename: a.filename,
    contentType: a.contentType,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
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
        ...(message.attachments?.length
          ? {
              attachments: message.attachments.map((a) => ({
                filename: a.filename,
                contentType: a.contentType,
                content: a.contentBase64,
                encoding: 'base64',
              })),
            }
          : {}),
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
          headers: {
            ...message.headers,
            ...(message.attachments?.length
              ? { [ATTACHMENTS_KEY]: JSON.stringify(message.attachments.map(describeAttachment)) }
              : {}),
          },
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
        items: page.map((r) => ({
          ...r,
          ...fromStoredHeaders(r.headers),
          createdAt: r.createdAt.toISOString(),
        })),
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
    attachments: z
      .array(
        z.object({
          filename: z.string(),
          contentType: z.string(),
          size: z.number().int().meta({ description: 'Bytes' }),
          sha256: z.string().meta({ description: 'Of the content, hex' }),
        }),
      )
      .meta({ description: 'Attached files, described (their content is not kept)' }),
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
