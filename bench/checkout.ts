/**
 * Checkout benchmark: card and wallet purchases (`POST /api/payments/initiate`) against a bare
 * Fastify route measured in the same run.
 *
 *   node --import tsx bench/checkout.ts [--duration 10] [--connections 50] [--warmup 2]
 *     [--database embedded|postgres] [--students 200] [--courses 50]
 *
 * Starts bench/bare-server.ts and Lectern (`bin/lectern.js serve`, production mode) on free
 * loopback ports, with a loopback SMTP server of its own to receive the verification emails.
 * Prepares the data through the public API only: `lectern seed --courses N` (demo accounts and N
 * generated courses), registers the students and confirms their emails from the links they get,
 * and funds half of them with vouchers an admin creates. Every checkout request buys a distinct
 * (student, course) pair, so each one is a real sale: order, payment, ledger postings, events.
 * Writes bench/results/<timestamp>-checkout-<database>.{json,md}. See bench/README.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Options as CannonOptions, type Result } from 'autocannon';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { DEMO_PASSWORD } from '../src/cli/seed.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const RAISED_LIMIT = '10000000';
const log = (msg: string) => console.error(`[checkout] ${msg}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Options

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '2' },
    database: { type: 'string', default: 'embedded' },
    students: { type: 'string', default: '200' },
    courses: { type: 'string', default: '50' },
  },
});
function int(name: string, min: number): number {
  const n = Number(values[name as keyof typeof values]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
}
const options = {
  duration: int('duration', 1),
  connections: int('connections', 1),
  warmup: int('warmup', 0),
  students: int('students', 2),
  courses: int('courses', 1),
  database: values.database as 'embedded' | 'postgres',
};
if (options.database !== 'embedded' && options.database !== 'postgres') {
  throw new Error('--database must be embedded or postgres');
}
if (options.database === 'postgres' && !process.env.DATABASE_URL) {
  throw new Error('--database postgres needs DATABASE_URL (a server to create a scratch database on)');
}

// ---------------------------------------------------------------------------------------------
// Processes (the same start/stop discipline as bench/run.ts)

interface Child {
  name: string;
  proc: ChildProcess;
  output: string[];
  exited: Promise<void>;
}
const children: Child[] = [];
const cleanups: Array<() => Promise<void>> = [];
const running = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null;

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 100) output.splice(0, output.length - 100);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const child = { name, proc, output, exited: new Promise<void>((r) => proc.once('exit', () => r())) };
  children.push(child);
  return child;
}

async function stopAll() {
  await Promise.all(
    children.filter(running).map(async (child) => {
      child.proc.kill('SIGTERM');
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    }),
  );
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}
process.on('exit', () => children.filter(running).forEach((c) => c.proc.kill('SIGKILL')));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitFor200(child: Child, url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!running(child)) throw new Error(`${child.name} exited:\n${child.output.join('\n')}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${child.name}: ${url} did not answer 200 in time:\n${child.output.join('\n')}`);
}

// ---------------------------------------------------------------------------------------------
// A loopback SMTP server: verification links arrive here, as they would in a mailbox.

function decodeQuotedPrintable(text: string): string {
  return text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

async function startMailCatcher() {
  const tokens = new Map<string, string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const text = decodeQuotedPrintable(Buffer.concat(chunks).toString('utf8'));
        const token = /verify-email\?token=([A-Za-z0-9_%-]+)/.exec(text)?.[1];
        const to = session.envelope.rcptTo[0]?.address.toLowerCase();
        if (token && to) tokens.set(to, decodeURIComponent(token));
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { port, tokens };
}

// ---------------------------------------------------------------------------------------------
// Data preparation through the public API

type Api = (
  method: string,
  url: string,
  init?: { token?: string; body?: unknown },
) => Promise<{ status: number; body: { data?: unknown; error?: unknown } }>;

function apiOf(base: string): Api {
  return async (method, url, init = {}) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: res.status, body: (await res.json()) as { data?: unknown } };
  };
}

function expectStatus(what: string, res: { status: number; body: unknown }, status: number) {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
}

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width)
    out.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  return out;
}

interface Student {
  userId: number;
  token: string;
}
interface Course {
  courseId: number;
  price: number;
}

async function paidCourses(api: Api, count: number): Promise<Course[]> {
  const found: Course[] = [];
  let cursor: string | null = null;
  while (found.length < count) {
    const res = await api('GET', `/api/courses?limit=50&minPrice=1${cursor ? `&cursor=${cursor}` : ''}`);
    expectStatus('listing courses', res, 200);
    const page = res.body.data as { items: Course[]; pageInfo: { nextCursor: string | null } };
    found.push(...page.items.map(({ courseId, price }) => ({ courseId, price })));
    cursor = page.pageInfo.nextCursor;
    if (!cursor) break;
  }
  if (found.length < count) throw new Error(`only ${found.length} paid courses found`);
  return found.slice(0, count);
}

async function verifiedStudents(api: Api, count: number, tokens: Map<string, string>): Promise<Student[]> {
  const run = randomBytes(4).toString('hex');
  const emails = Array.from({ length: count }, (_, i) => `bench-${run}-${i}@example.com`);
  const students = await inBatches(emails, 8, async (email) => {
    const res = await api('POST', '/api/auth/user/register', {
      body: { email, password: `Bench-${randomBytes(12).toString('base64url')}`, name: 'Bench Student' },
    });
    expectStatus('registering a student', res, 200);
    return { email, ...(res.body.data as Student) };
  });
  // Registration also queues a welcome email, so the mail queue carries two messages per student.
  const deadline = Date.now() + 600_000;
  let reported = Date.now();
  while (emails.some((e) => !tokens.has(e)) && Date.now() < deadline) {
    await sleep(250);
    if (Date.now() - reported > 15_000) {
      reported = Date.now();
      log(`verification emails received: ${emails.filter((e) => tokens.has(e)).length}/${count}`);
    }
  }
  await inBatches(students, 8, async (s) => {
    const token = tokens.get(s.email);
    if (!token) throw new Error(`no verification email for ${s.email}`);
    expectStatus('verifying an email', await api('POST', '/api/auth/email/verify', { body: { token } }), 200);
  });
  return students.map(({ userId, token }) => ({ userId, token }));
}

/** Gives each student one voucher worth every course, redeemed into their wallet. */
async function fundWallets(api: Api, adminToken: string, students: Student[], courses: Course[]) {
  const amount = round(courses.reduce((sum, c) => sum + c.price, 0) + 1);
  const batch = await api('POST', '/api/admin/vouchers', {
    token: adminToken,
    body: { count: students.length, amount, currency: 'NGN', description: 'checkout benchmark' },
  });
  expectStatus('creating vouchers', batch, 201);
  const codes = (batch.body.data as { codes: Array<{ code: string }> }).codes;
  await inBatches(
    students.map((s, i) => ({ s, code: codes[i]!.code })),
    8,
    async ({ s, code }) =>
      expectStatus(
        'redeeming a voucher',
        await api('POST', '/api/wallet/vouchers/redeem', { token: s.token, body: { code } }),
        200,
      ),
  );
}

/**
 * Waits until no job is waiting or running (enrollments, receipts, emails), ignoring dead-letter
 * queues (nothing consumes them) and jobs scheduled for later; returns the seconds it took.
 */
async function drainJobs(api: Api, adminToken: string): Promise<number> {
  const started = Date.now();
  let busy: string[] = [];
  while (Date.now() - started < 180_000) {
    const res = await api('GET', '/api/admin/jobs/stats', { token: adminToken });
    expectStatus('job stats', res, 200);
    const { queues } = res.body.data as {
      queues: Array<{ queue: string; deadLetterOf: string | null; counts: Record<string, number> }>;
    };
    busy = queues
      .filter((q) => !q.deadLetterOf && q.counts.created! + q.counts.active! + q.counts.retry! > 0)
      .map(
        (q) => `${q.queue} (${q.counts.created} created, ${q.counts.active} active, ${q.counts.retry} retry)`,
      );
    if (busy.length === 0) return round((Date.now() - started) / 1000, 1);
    await sleep(500);
  }
  log(`jobs still pending after 180 s: ${busy.join(', ')}`);
  return round((Date.now() - started) / 1000, 1);
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Target {
  name: string;
  route: string;
  url: string;
  /** Distinct checkout bodies, one per request; absent for the bare GET. */
  checkouts?: Array<{ token: string; body: string }>;
}

async function measure(target: Target): Promise<Result> {
  const pool = target.checkouts;
  let next = 0;
  const base: CannonOptions & { maxOverallRequests?: number } = {
    url: target.url,
    connections: options.connections,
    timeout: 10,
    ...(pool
      ? {
          requests: [
            {
              setupRequest: (req) => {
                const { token, body } = pool[next++ % pool.length]!;
                return {
                  ...req,
                  method: 'POST',
                  path: '/api/payments/initiate',
                  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
                  body,
                };
              },
            },
          ],
        }
      : {}),
  };
  // Never buy a pair twice: stop early rather than measure 409s (a margin for requests built ahead).
  const cap = () =>
    pool ? { maxOverallRequests: Math.max(1, pool.length - next - options.connections * 2) } : {};
  if (options.warmup > 0) await autocannon({ ...base, ...cap(), duration: options.warmup });
  const result = await autocannon({ ...base, ...cap(), duration: options.duration, title: target.name });
  if (pool && next >= pool.length - options.connections * 2)
    log(`${target.name}: ran out of (student, course) pairs`);
  return result;
}

function summarise(target: Target, result: Result, bare: Result) {
  return {
    name: target.name,
    route: target.route,
    requestsPerSecond: round(result.requests.average, 1),
    requestsTotal: result.requests.total,
    durationSeconds: result.duration,
    latencyMs: {
      mean: round(result.latency.average),
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([c, s]) => [c, s.count])),
    ratioVsBare: round(result.requests.average / bare.requests.average, 4),
    p50LatencyVsBare: round(result.latency.p50 / Math.max(bare.latency.p50, 1), 1),
    backgroundDrainSeconds: 0,
  };
}
type Row = ReturnType<typeof summarise>;

const git = (args: string[]) => {
  try {
    return execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
};

function markdownTable(rows: Row[]) {
  return [
    '| target | route | req/s (mean) | p50 ms | p90 ms | p99 ms | errors | non-2xx | req/s vs bare | jobs drained after (s) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | \`${r.route}\` | ${r.requestsPerSecond.toFixed(0)} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ` +
        `${r.latencyMs.p99} | ${r.errors + r.timeouts} | ${r.non2xx} | ${r.ratioVsBare.toFixed(4)} | ${r.backgroundDrainSeconds} |`,
    ),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function scratchDatabase(): Promise<string> {
  const url = new URL(process.env.DATABASE_URL!);
  const name = `lectern_bench_checkout_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    await c.query(`drop database if exists "${name}" with (force)`);
    await c.end();
  });
  url.pathname = `/${name}`;
  return url.toString();
}

async function main() {
  const started = new Date();
  const loadAtStart = os.loadavg().map((l) => round(l));
  const stamp = started
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lectern-checkout-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const mail = await startMailCatcher();
  const [barePort, port] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    HOST,
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    PUBLIC_URL: `http://${HOST}:${port}`,
    JWT_SECRET: randomBytes(32).toString('base64url'),
    SIGNING_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    RATE_LIMIT_MAX: RAISED_LIMIT,
    AUTH_RATE_LIMIT_MAX: RAISED_LIMIT,
    SMTP_URL: `smtp://${HOST}:${mail.port}`,
  };
  for (const key of ['PORT', 'PGLITE_PATH', 'STORAGE_DIR']) delete env[key];
  if (options.database === 'embedded') {
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
  } else {
    env.DATABASE_URL = await scratchDatabase();
    env.REDIS_KEY_PREFIX = `lectern-bench:${randomBytes(4).toString('hex')}:`;
  }

  log(`seeding demo accounts and ${options.courses * 2} generated courses`);
  const seed = startChild('seed', ['bin/lectern.js', 'seed', '--courses', String(options.courses * 2)], env);
  await seed.exited;
  if (seed.proc.exitCode !== 0) throw new Error(`seeding failed:\n${seed.output.join('\n')}`);

  const bare = startChild(
    'bare server',
    ['--import', 'tsx', 'bench/bare-server.ts', '--port', String(barePort)],
    {
      ...process.env,
      NODE_ENV: 'production',
    },
  );
  const lectern = startChild('lectern', ['bin/lectern.js', 'serve', '--port', String(port)], env);
  await waitFor200(bare, `http://${HOST}:${barePort}/bare`, 60_000);
  await waitFor200(lectern, `http://${HOST}:${port}/health/ready`, 180_000);
  const base = `http://${HOST}:${port}`;
  const api = apiOf(base);

  const login = await api('POST', '/api/auth/user/login', {
    body: { email: 'admin@lectern.local', password: DEMO_PASSWORD },
  });
  expectStatus('admin login', login, 200);
  const adminToken = (login.body.data as { token: string }).token;
  const courses = await paidCourses(api, options.courses);
  log(`registering and verifying ${options.students} students`);
  const students = await verifiedStudents(api, options.students, mail.tokens);
  const cardStudents = students.slice(0, Math.floor(students.length / 2));
  const walletStudents = students.slice(cardStudents.length);
  log(`funding ${walletStudents.length} wallets with vouchers`);
  await fundWallets(api, adminToken, walletStudents, courses);
  await drainJobs(api, adminToken);

  const checkouts = (group: Student[], method: 'card' | 'wallet') =>
    courses.flatMap((c) =>
      group.map((s) => ({
        token: s.token,
        body: JSON.stringify({
          userId: s.userId,
          courseId: c.courseId,
          amount: c.price,
          method,
          ...(method === 'card'
            ? {
                cardDetails: {
                  number: '4242424242424242',
                  expiryMonth: '12',
                  expiryYear: String(started.getUTCFullYear() + 2),
                  cvv: '123',
                },
              }
            : {}),
        }),
      })),
    );
  const targets: Target[] = [
    { name: 'bare Fastify', route: 'GET /bare', url: `http://${HOST}:${barePort}/bare` },
    {
      name: 'card checkout',
      route: 'POST /api/payments/initiate (card)',
      url: `${base}/api/payments/initiate`,
      checkouts: checkouts(cardStudents, 'card'),
    },
    {
      name: 'wallet checkout',
      route: 'POST /api/payments/initiate (wallet)',
      url: `${base}/api/payments/initiate`,
      checkouts: checkouts(walletStudents, 'wallet'),
    },
  ];

  const rows: Row[] = [];
  let bareResult: Result | undefined;
  for (const target of targets) {
    log(
      `${target.name}: ${options.warmup}s warm-up + ${options.duration}s × ${options.connections} connections`,
    );
    const result = await measure(target);
    bareResult ??= result;
    const row = summarise(target, result, bareResult);
    // Each sale leaves work behind (enrollment, receipt PDF and emails): let it finish so the
    // next target is measured on its own, and report how long it took.
    if (target.checkouts) row.backgroundDrainSeconds = await drainJobs(api, adminToken);
    rows.push(row);
    if (!running(lectern) || !running(bare)) throw new Error('a server exited during the run');
  }

  const cpus = os.cpus();
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command: [process.execPath, ...process.execArgv, ...process.argv.slice(1)].join(' '),
    git: {
      commit: git(['rev-parse', '--short', 'HEAD']),
      dirty: (git(['status', '--porcelain']) ?? '').length > 0,
    },
    machine: {
      cpuModel: cpus[0]?.model,
      cores: cpus.length,
      totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
      node: process.version,
      loadAverageAtStart: loadAtStart,
    },
    settings: { ...options, students: { card: cardStudents.length, wallet: walletStudents.length } },
    targets: rows,
  };
  const table = markdownTable(rows);
  const markdown =
    `# Lectern checkout benchmark — ${report.startedAt} (${options.database})\n\n` +
    `- machine: ${report.machine.cpuModel} × ${report.machine.cores} cores, Node ${report.machine.node}; load average at start ${loadAtStart.join(' / ')}\n` +
    `- commit: ${report.git.commit ?? 'unknown'}${report.git.dirty ? ' (with uncommitted changes)' : ''}\n` +
    `- data: ${courses.length} paid courses, ${cardStudents.length} card buyers, ${walletStudents.length} wallet buyers; every request buys a new (student, course) pair\n` +
    `- load: autocannon, ${options.connections} connections, ${options.warmup}s warm-up then ${options.duration}s per target\n\n` +
    `${table}\n\n` +
    'req/s vs bare: the target’s requests/s divided by the bare route’s in this run. The last column is how long the background jobs each target left behind (enrollment, receipt, emails) took to finish after it.\n';
  const resultsDir = path.join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${stamp}-checkout-${options.database}`);
  writeFileSync(`${file}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${file}.md`, markdown);
  console.log(`\n${table}\n`);
  log(`wrote ${path.relative(root, file)}.json and .md`);
  if (rows.some((r) => r.errors > 0 || r.timeouts > 0 || r.non2xx > 0)) {
    log('FAILED: errors or non-2xx responses (see statusCodes in the JSON)');
    process.exitCode = 1;
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping servers`);
    stopAll().finally(() => process.exit(130));
  });
}

main()
  .catch((err: unknown) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
