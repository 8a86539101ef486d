import { createHash } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/helpers/database.ts';
import type { Config } from './config.ts';
import type { Database } from './db.ts';
import { ValidationError } from './errors.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { createJobs } from './jobs.ts';
import { createLogger } from './logger.ts';
import {
  createMailer,
  devMailboxRoutes,
  idempotencyJobId,
  MAX_ATTACHMENT_BYTES,
  MAX_ATTACHMENTS,
  type Mailer,
} from './mail.ts';
import { createMetrics } from './metrics.ts';

const FROM = 'Lectern Test <no-reply@lectern.test>';
const FAST_JOBS = { pollIntervalSeconds: 0.5, retryLimit: 3, retryDelaySeconds: 1 };

/** The mailer on its own database and job queue, as createPlatform wires it. */
async function startMailer(mail: Config['mail']) {
  const { database, close } = await openTestDatabase();
  const logger = createLogger('silent');
  const jobs = createJobs({ database, logger, metrics: createMetrics(), workers: true, ...FAST_JOBS });
  const mailer = createMailer({ config: mail, database, jobs, logger });
  await jobs.start();
  return {
    database,
    jobs,
    mailer,
    async close() {
      await jobs.stop();
      await close();
    },
  };
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Harness = Awaited<ReturnType<typeof startMailer>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inbox = async (h: Harness, to: string, limit = 10) => (await h.mailer.listMailbox({ to, limit })).items;

async function sendEmailJobs(database: Database) {
  const { rows } = await database.executor.executeSql(
    "select id, state, retry_count, data from pgboss.job where name = 'platform.sendEmail'",
  );
  return rows as Array<{ id: string; state: string; retry_count: number; data: { to: string } }>;
}

describe('mailer with the embedded mailbox transport', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startMailer({ smtpUrl: undefined, from: FROM });
  });
  afterAll(async () => h?.close());

  it('delivers through a job into the mailbox; listMailbox filters by recipient case-insensitively and paginates', async () => {
    expect(h.mailer.transport).toBe('mailbox');
    const ids = await Promise.all(
      ['Case.User@Example.test', 'case.user@example.test', 'CASE.USER@example.test'].map((to, i) =>
        h.mailer.send({
          to,
          subject: `Hello ${i}`,
          text: `Body ${i}`,
          html: `<p>Body ${i}</p>`,
          headers: { 'X-Lectern-Kind': 'test' },
        }),
      ),
    );
    await h.mailer.send({ to: 'someone.else@example.test', subject: 'Other', text: 'Other body' });
    expect(ids.every((id) => typeof id === 'string')).toBe(true);

    await waitFor(async () => (await inbox(h, 'case.user@EXAMPLE.test')).length === 3);
    const all = await h.mailer.listMailbox({ to: 'CASE.user@example.TEST', limit: 10 });
    expect(all.nextCursor).toBeNull();
    expect(new Set(all.items.map((m) => m.subject))).toEqual(new Set(['Hello 0', 'Hello 1', 'Hello 2']));
    expect(new Set(all.items.map((m) => m.jobId))).toEqual(new Set(ids));
    const first = all.items.find((m) => m.subject === 'Hello 1')!;
    expect(first).toMatchObject({
      from: FROM,
      to: 'case.user@example.test',
      text: 'Body 1',
      html: '<p>Body 1</p>',
      headers: { 'X-Lectern-Kind': 'test' },
    });
    expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt);

    const page1 = await h.mailer.listMailbox({ to: 'case.user@example.test', limit: 2 });
    expect(page1.items).toHaveLength(2);
    expect(page1.items[0]!.id).toBeGreaterThan(page1.items[1]!.id);
    expect(page1.nextCursor).toBe(page1.items[1]!.id);
    const page2 = await h.mailer.listMailbox({
      to: 'case.user@example.test',
      limit: 2,
      cursor: page1.nextCursor!,
    });
    expect(page2.items).toHaveLength(1);
    expect(page2.nextCursor).toBeNull();
    expect(page2.items[0]!.id).toBeLessThan(page1.items[1]!.id);
    expect([...page1.items, ...page2.items].map((m) => m.id)).toEqual(all.items.map((m) => m.id));

    await waitFor(async () => (await inbox(h, 'someone.else@example.test')).length === 1);
    expect((await h.mailer.listMailbox({ limit: 100 })).items.length).toBeGreaterThanOrEqual(4);
  });

  it('enqueues and stores a message once when the same idempotency key is sent twice', async () => {
    const message = {
      to: 'idem@example.test',
      subject: 'Verify your email',
      text: 'Code 1234',
      idempotencyKey: 'verify-email:42',
    };
    const first = await h.mailer.send(message);
    const second = await h.mailer.send({ ...message, text: 'A second attempt' });
    expect(first).toBe(idempotencyJobId('verify-email:42'));
    expect(second).toBeNull();
    expect(idempotencyJobId('verify-email:42')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(idempotencyJobId('verify-email:43')).not.toBe(first);

    await waitFor(async () =>
      (await sendEmailJobs(h.database)).find((j) => j.id === first && j.state === 'completed'),
    );
    const jobs = (await sendEmailJobs(h.database)).filter((j) => j.data.to === 'idem@example.test');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data).not.toHaveProperty('idempotencyKey');
    expect((await inbox(h, 'idem@example.test')).map((m) => m.text)).toEqual(['Code 1234']);
  });

  it('never delivers a message enqueued in a transaction that rolls back', async () => {
    const to = 'rolled.back@example.test';
    await expect(
      h.database.db.transaction(async (tx) => {
        const id = await h.mailer.send({ to, subject: 'Should not leave', text: 'Never' }, { tx });
        expect(id).toEqual(expect.any(String));
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');

    // A committed send after it proves the worker was polling the whole time.
    await h.database.db.transaction(async (tx) => {
      await h.mailer.send({ to: 'committed@example.test', subject: 'Did leave', text: 'Yes' }, { tx });
    });
    await waitFor(async () => (await inbox(h, 'committed@example.test')).length === 1);
    await sleep(1500);
    expect(await inbox(h, to)).toEqual([]);
    expect((await sendEmailJobs(h.database)).filter((j) => j.data.to === to)).toEqual([]);
  });

  it('rejects a bad message with a ValidationError naming the field and enqueues nothing', async () => {
    const before = (await sendEmailJobs(h.database)).length;
    const ok = { to: 'ok@example.test', subject: 'Hi', text: 'Body' };
    const cases: Array<[Parameters<Mailer['send']>[0], string]> = [
      [{ ...ok, to: 'not-an-email' }, 'to'],
      [{ ...ok, subject: 'x'.repeat(301) }, 'subject'],
      [{ ...ok, subject: 'Two\r\nlines' }, 'subject'],
      [{ ...ok, text: '' }, 'text'],
      [{ ...ok, headers: { 'X-Evil': 'a\r\nBcc: victim@example.test' } }, 'headers.X-Evil'],
    ];
    for (const [message, field] of cases) {
      const error = await h.mailer.send(message).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ statusCode: 400, details: [expect.objectContaining({ field })] });
    }
    expect((await sendEmailJobs(h.database)).length).toBe(before);
  });

  it('keeps attachments in the mailbox as metadata and refuses bad or oversized ones', async () => {
    const to = 'attached@example.test';
    const pdf = Buffer.from('%PDF-1.4\n% a tiny file\n%%EOF\n');
    await h.mailer.send({
      to,
      subject: 'Your receipt',
      text: 'Attached',
      headers: { 'X-Lectern-Kind': 'receipt' },
      attachments: [
        { filename: 'receipt-7.pdf', contentType: 'application/pdf', contentBase64: pdf.toString('base64') },
      ],
    });
    const [item] = await waitFor(async () => {
      const items = await inbox(h, to);
      return items.length === 1 && items;
    });
    expect(item!.attachments).toEqual([
      {
        filename: 'receipt-7.pdf',
        contentType: 'application/pdf',
        size: pdf.length,
        sha256: createHash('sha256').update(pdf).digest('hex'),
      },
    ]);
    expect(item!.headers).toEqual({ 'X-Lectern-Kind': 'receipt' });

    const before = (await sendEmailJobs(h.database)).length;
    const ok = { to, subject: 'Hi', text: 'Body' };
    const file = { filename: 'a.pdf', contentType: 'application/pdf', contentBase64: 'JVBERg==' };
    const tooBig = Buffer.alloc(MAX_ATTACHMENT_BYTES / 2 + 1).toString('base64');
    const cases: Array<[Parameters<Mailer['send']>[0], string]> = [
      [{ ...ok, attachments: [{ ...file, contentBase64: 'not base64!' }] }, 'attachments.0.contentBase64'],
      [{ ...ok, attachments: [{ ...file, filename: '../etc/passwd' }] }, 'attachments.0.filename'],
      [{ ...ok, attachments: [{ ...file, filename: 'a\r\nBcc: x@example.test' }] }, 'attachments.0.filename'],
      [{ ...ok, attachments: [{ ...file, contentType: 'pdf' }] }, 'attachments.0.contentType'],
      [{ ...ok, attachments: Array.from({ length: MAX_ATTACHMENTS + 1 }, () => file) }, 'attachments'],
      [
        {
          ...ok,
          attachments: [
            { ...file, contentBase64: tooBig },
            { ...file, contentBase64: tooBig },
          ],
        },
        'attachments',
      ],
      [{ ...ok, headers: { 'X-Lectern-Attachments': '[]' } }, 'headers.X-Lectern-Attachments'],
    ];
    for (const [message, field] of cases) {
      const error = await h.mailer.send(message).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ statusCode: 400, details: [expect.objectContaining({ field })] });
    }
    expect((await sendEmailJobs(h.database)).length).toBe(before);
  });

  it('serves GET /api/dev/mailbox with the envelope, keyset pages and 400s for bad query strings', async () => {
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    registerErrorHandling(app);
    await app.register(devMailboxRoutes, { mailer: h.mailer, prefix: '/api/dev' });
    const get = (query: string) => app.inject({ method: 'GET', url: `/api/dev/mailbox${query}` });
    try {
      const to = 'route.reader@example.test';
      await h.mailer.send({ to, subject: 'Route 1', text: 'One' });
      await h.mailer.send({ to, subject: 'Route 2', text: 'Two' });
      await waitFor(async () => (await inbox(h, to)).length === 2);

      const res = await get(`?to=${encodeURIComponent('Route.Reader@Example.test')}&limit=1`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        status: 'success',
        data: { pageInfo: { hasMore: true, nextCursor: expect.any(String) } },
      });
      expect(typeof body.timestamp).toBe('string');
      expect(body.data.items).toHaveLength(1);
      expect(body.data.items[0]).toMatchObject({ to, from: FROM, html: null, headers: {} });

      const next = await get(`?to=${to}&limit=1&cursor=${body.data.pageInfo.nextCursor}`);
      expect(next.statusCode).toBe(200);
      expect(next.json().data.pageInfo).toEqual({ nextCursor: null, hasMore: false });
      expect(new Set([body.data.items[0].subject, next.json().data.items[0].subject])).toEqual(
        new Set(['Route 1', 'Route 2']),
      );

      const unfiltered = await get('');
      expect(unfiltered.statusCode).toBe(200);
      expect(unfiltered.json().data.items.length).toBeGreaterThanOrEqual(2);

      const zero = await get('?limit=0');
      expect(zero.statusCode).toBe(400);
      expect(zero.json()).toMatchObject({ status: 'error', data: null, error: { errorCode: 400 } });
      expect(zero.json().error.details.map((d: { field: string }) => d.field)).toContain('querystring.limit');

      const badTo = await get('?to=not-an-email');
      expect(badTo.statusCode).toBe(400);
      expect(badTo.json().error.details.map((d: { field: string }) => d.field)).toContain('querystring.to');

      expect((await get('?cursor=-3')).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});

interface Received {
  mailFrom: string;
  rcptTo: string[];
  raw: string;
}

/** A real SMTP peer on loopback that records every message it accepts. */
function smtpServer(received: Received[]) {
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
}

function listen(server: SMTPServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const net = server.listen(port, '127.0.0.1', () => resolve((net.address() as AddressInfo).port));
    net.once('error', reject);
  });
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

const closeSmtp = (server: SMTPServer) => new Promise<void>((r) => server.close(() => r()));

describe('mailer with SMTP', () => {
  it('delivers over SMTP with the configured sender, recipient, subject, text and html', async () => {
    const received: Received[] = [];
    const server = smtpServer(received);
    const port = await listen(server);
    const h = await startMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM });
    try {
      expect(h.mailer.transport).toBe('smtp');
      const jobId = await h.mailer.send({
        to: 'learner@example.test',
        subject: 'Welcome to Lectern',
        text: 'Plain body here',
        html: '<p>Html body here</p>',
        replyTo: 'support@example.test',
        headers: { 'X-Lectern-Kind': 'welcome' },
      });
      await waitFor(async () => received.length === 1);
      const [mail] = received;
      expect(mail!.mailFrom).toBe('no-reply@lectern.test');
      expect(mail!.rcptTo).toEqual(['learner@example.test']);
      const headerBlock = mail!.raw.split('\r\n\r\n')[0]!;
      expect(headerBlock.split('\r\n')).toEqual(
        expect.arrayContaining([
          'From: Lectern Test <no-reply@lectern.test>',
          'To: learner@example.test',
          'Subject: Welcome to Lectern',
          'Reply-To: support@example.test',
          'X-Lectern-Kind: welcome',
          `Message-ID: <${jobId}@lectern.test>`,
        ]),
      );
      expect(mail!.raw).toMatch(/multipart\/alternative[\s\S]*Plain body here/);
      expect(mail!.raw).toContain('<p>Html body here</p>');
      expect((await h.mailer.listMailbox({ limit: 10 })).items).toEqual([]);
    } finally {
      await h.close();
      await closeSmtp(server);
    }
  });

  it('sends attachments over SMTP as MIME parts with their name, type and base64 content', async () => {
    const received: Received[] = [];
    const server = smtpServer(received);
    const port = await listen(server);
    const h = await startMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM });
    try {
      const pdf = Buffer.from('%PDF-1.4\n% receipt body\n%%EOF\n');
      await h.mailer.send({
        to: 'buyer@example.test',
        subject: 'Your receipt',
        text: 'The receipt is attached.',
        attachments: [
          {
            filename: 'receipt-9.pdf',
            contentType: 'application/pdf',
            contentBase64: pdf.toString('base64'),
          },
        ],
      });
      await waitFor(async () => received.length === 1);
      const raw = received[0]!.raw;
      expect(raw).toMatch(/Content-Type: multipart\/mixed/);
      expect(raw).toMatch(/Content-Type: application\/pdf; name=receipt-9\.pdf/);
      expect(raw).toMatch(/Content-Disposition: attachment; filename=receipt-9\.pdf/);
      expect(raw).toContain(pdf.toString('base64'));
      expect(raw).toContain('The receipt is attached.');
    } finally {
      await h.close();
      await closeSmtp(server);
    }
  });

  it('retries while the SMTP server is down and delivers exactly once when it comes up', async () => {
    const port = await freePort();
    const received: Received[] = [];
    const h = await startMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM });
    const server = smtpServer(received);
    try {
      const jobId = await h.mailer.send({ to: 'patient@example.test', subject: 'Eventually', text: 'Later' });
      const failed = await waitFor(async () =>
        (await sendEmailJobs(h.database)).find((j) => j.id === jobId && j.state === 'retry'),
      );
      expect(failed.state).toBe('retry');
      expect(received).toEqual([]);

      await listen(server, port);
      await waitFor(async () => received.length > 0, 20_000);
      await waitFor(async () =>
        (await sendEmailJobs(h.database)).find((j) => j.id === jobId && j.state === 'completed'),
      );
      await sleep(1000);
      expect(received).toHaveLength(1);
      expect(received[0]!.rcptTo).toEqual(['patient@example.test']);
      const [job] = (await sendEmailJobs(h.database)).filter((j) => j.id === jobId);
      expect(job!.retry_count).toBeGreaterThanOrEqual(1);
    } finally {
      await h.close();
      await closeSmtp(server);
    }
  }, 45_000);
});
