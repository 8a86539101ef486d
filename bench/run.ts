/**
 * Load benchmark: Lectern's HTTP routes against a bare Fastify route measured in the same run.
 *
 *   npm run bench -- [--duration 10] [--connections 50] [--warmup 2] [--database embedded|postgres]
 *
 * Starts bench/bare-server.ts and Lectern (`bin/lectern.js serve`) as child processes on free
 * loopback ports, registers one user, then runs autocannon against each target in turn and
 * writes bench/results/<timestamp>-<database>.{json,md}. Exits non-zero when any target saw
 * errors or non-2xx responses. See bench/README.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { searchPaths } from './search-queries.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = path.join(root, 'bench', 'results');
const HOST = '127.0.0.1';
const RAISED_LIMIT = '10000000';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  duration: number;
  connections: number;
  warmup: number;
  database: 'embedded' | 'postgres';
  /** Courses to generate (`lectern seed --courses N`) before the catalog targets; 0 skips them. */
  courses: number;
  /** Times the whole target list is measured; each target reports its median round. */
  rounds: number;
}

class UsageError extends Error {}

function positiveInt(name: string, raw: string, min: number) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min} (got "${raw}")`);
  return n;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '2' },
      database: { type: 'string', default: 'embedded' },
      courses: { type: 'string', default: '0' },
      rounds: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: npm run bench -- [--duration <s>=10] [--connections <n>=50] [--warmup <s>=2] [--database embedded|postgres] [--courses N] [--rounds N=1]\n' +
        '  --courses N generates N published courses first and adds the catalog targets (cached page, search, seed 002 list).\n' +
        '  --database postgres uses DATABASE_URL (required) and REDIS_URL (optional) from the environment.\n' +
        '  --rounds N measures the whole list N times (bare route first in each round, ratios against that round’s\n' +
        '    bare figure) and reports each target’s median round: on a shared machine single runs vary by ±30%.',
    );
    process.exit(0);
  }
  if (values.database !== 'embedded' && values.database !== 'postgres')
    throw new UsageError(`--database must be embedded or postgres (got "${values.database}")`);
  if (values.database === 'postgres' && !process.env.DATABASE_URL)
    throw new UsageError('--database postgres needs DATABASE_URL (and usually REDIS_URL) in the environment');
  return {
    duration: positiveInt('duration', values.duration, 1),
    connections: positiveInt('connections', values.connections, 1),
    warmup: positiveInt('warmup', values.warmup, 0),
    database: values.database,
    courses: values.courses === '0' ? 0 : positiveInt('courses', values.courses, 1),
    rounds: positiveInt('rounds', values.rounds, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface Child {
  name: string;
  proc: ChildProcess;
  /** The last lines the child wrote, for error messages. */
  output: string[];
  exited: Promise<void>;
}

const children: Child[] = [];
/** Temporary directories to delete once the children are gone. */
const tempDirs: string[] = [];

function running(child: Child) {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 100) output.splice(0, output.length - 100);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child = { name, proc, output, exited };
  children.push(child);
  return child;
}

async function stopChildren() {
  await Promise.all(
    children.filter(running).map(async (child) => {
      child.proc.kill('SIGTERM');
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    }),
  );
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// Last resort: never leave a server behind, whatever way this process ends.
process.on('exit', () => {
  for (const child of children.filter(running)) child.proc.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor200(child: Child, url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!running(child))
      throw new Error(
        `${child.name} exited (code ${child.proc.exitCode ?? child.proc.signalCode}) before ${url} answered 200:\n` +
          child.output.join('\n'),
      );
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(
    `${child.name}: ${url} did not answer 200 within ${timeoutMs / 1000}s (${last}):\n${child.output.join('\n')}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** Paths to rotate through, one per request (defeats response caches for uncached targets). */
  paths?: string[];
  /** The process serving the target, whose CPU time is counted per request. */
  pid?: number;
}

interface Measured {
  name: string;
  url: string;
  requestsPerSecond: number;
  requestsTotal: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** requests/s of this target ÷ requests/s of the bare route (1 = as fast as bare Fastify). */
  ratioVsBare: number;
  /** p50 latency of this target ÷ p50 latency of the bare route. */
  p50LatencyVsBare: number;
  /**
   * CPU time per request (user + system, milliseconds) during the measured seconds, from /proc
   * (Linux only; absent elsewhere): of the process serving the target, and of every PostgreSQL
   * process on the machine (with --database postgres). Shows where a target's time goes.
   */
  cpuMsPerRequest?: { server: number; postgres?: number };
  /** With --rounds > 1: every round's figures; the fields above are the median round's. */
  rounds?: Array<Omit<Measured, 'rounds'>>;
}

/** The round with the median ratio to the bare route (the bare route: the median requests/s). */
function medianRound(runs: Measured[]): Measured {
  if (runs.length === 1) return runs[0]!;
  const sorted = [...runs].sort(
    (a, b) => a.ratioVsBare - b.ratioVsBare || a.requestsPerSecond - b.requestsPerSecond,
  );
  return { ...sorted[(sorted.length - 1) >> 1]!, rounds: runs };
}

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used, or undefined where /proc is missing. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by each process named `postgres` (the server and its backends), by pid. */
function postgresCpuSeconds(): Map<number, number> | undefined {
  const used = new Map<number, number>();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').startsWith('postgres')) continue;
      } catch {
        continue; // exited meanwhile
      }
      const seconds = processCpuSeconds(Number(entry));
      if (seconds !== undefined) used.set(Number(entry), seconds);
    }
  } catch {
    return undefined;
  }
  return used;
}

/** CPU seconds PostgreSQL used between two snapshots (a backend that started meanwhile counts from 0). */
function postgresCpuBetween(before: Map<number, number> | undefined, after: Map<number, number> | undefined) {
  if (!before || !after) return undefined;
  let total = 0;
  for (const [pid, seconds] of after) total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

async function measure(target: Target, options: Options) {
  const base = {
    url: target.url,
    connections: options.connections,
    headers: target.headers ?? {},
    timeout: 10,
    ...(target.paths
      ? (() => {
          let i = 0;
          const paths = target.paths;
          return {
            requests: [
              { setupRequest: (req: { path?: string }) => ({ ...req, path: paths[i++ % paths.length] }) },
            ],
          };
        })()
      : {}),
  };
  if (options.warmup > 0) await autocannon({ ...base, duration: options.warmup });
  const serverCpu = () => (target.pid === undefined ? undefined : processCpuSeconds(target.pid));
  const before = { server: serverCpu(), postgres: postgresCpuSeconds() };
  const result = await autocannon({ ...base, duration: options.duration, title: target.name });
  const serverAfter = serverCpu();
  const perRequest = (seconds: number | undefined) =>
    seconds === undefined || result.requests.total === 0
      ? undefined
      : round((seconds * 1000) / result.requests.total, 3);
  const server = perRequest(
    before.server === undefined || serverAfter === undefined ? undefined : serverAfter - before.server,
  );
  const postgres =
    options.database === 'postgres'
      ? perRequest(postgresCpuBetween(before.postgres, postgresCpuSeconds()))
      : undefined;
  return { result, cpu: server === undefined ? undefined : { server, postgres } };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function summarise(
  target: Target,
  result: Result,
  bare: Result | undefined,
  cpuMsPerRequest: Measured['cpuMsPerRequest'],
): Measured {
  const baseline = bare ?? result;
  return {
    name: target.name,
    url: new URL(target.url).pathname,
    requestsPerSecond: round(result.requests.average, 1),
    requestsTotal: result.requests.total,
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
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]),
    ),
    ratioVsBare: round(result.requests.average / baseline.requests.average, 3),
    p50LatencyVsBare: round(result.latency.p50 / Math.max(baseline.latency.p50, 1), 2),
    ...(cpuMsPerRequest ? { cpuMsPerRequest } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Reporting

function git(args: string[]) {
  try {
    return execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** Drops credentials from a connection URL before it is written to a result file. */
function redactUrl(raw: string | undefined) {
  if (!raw) return undefined;
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable)';
  }
}

function markdownTable(rows: Measured[]) {
  const multi = rows.some((r) => r.rounds);
  const cpu = rows.some((r) => r.cpuMsPerRequest);
  const pg = rows.some((r) => r.cpuMsPerRequest?.postgres !== undefined);
  const ms = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(3));
  const header =
    '| target | route | req/s (mean) | p50 ms | p90 ms | p99 ms | errors | non-2xx | req/s vs bare |' +
    (multi ? ' vs bare, each round | p99 ms, each round |' : '') +
    (cpu ? ' server CPU ms/req |' : '') +
    (pg ? ' PostgreSQL CPU ms/req |' : '') +
    '\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |' +
    (multi ? ' ---: | ---: |' : '') +
    (cpu ? ' ---: |' : '') +
    (pg ? ' ---: |' : '');
  const lines = rows.map(
    (r) =>
      `| ${r.name} | \`GET ${r.url}\` | ${r.requestsPerSecond.toFixed(0)} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ` +
      `${r.latencyMs.p99} | ${r.errors + r.timeouts} | ${r.non2xx} | ${r.ratioVsBare.toFixed(3)} |` +
      (r.rounds
        ? ` ${r.rounds.map((x) => x.ratioVsBare.toFixed(3)).join(' / ')} | ${r.rounds.map((x) => x.latencyMs.p99).join(' / ')} |`
        : '') +
      (cpu ? ` ${ms(r.cpuMsPerRequest?.server)} |` : '') +
      (pg ? ` ${ms(r.cpuMsPerRequest?.postgres)} |` : ''),
  );
  return [header, ...lines].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

/** Waits (up to 120 s) until the server answers a readiness probe within 200 ms again. */
async function drain(url: string, log: (msg: string) => void) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const started = Date.now();
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok && Date.now() - started < 200) return;
    if (Date.now() > deadline) {
      log('server still busy after 120 s; continuing');
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const started = new Date();
  const loadAtStart = os.loadavg();
  const stamp = started
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lectern-bench-'));
  tempDirs.push(dataDir);
  const log = (msg: string) => console.error(`[bench] ${msg}`);

  try {
    const [barePort, lecternPort] = [await freePort(), await freePort()];

    log(`starting bare Fastify on ${HOST}:${barePort}`);
    const bare = startChild(
      'bare server',
      ['--import', 'tsx', 'bench/bare-server.ts', '--port', String(barePort)],
      {
        ...process.env,
        NODE_ENV: 'production',
      },
    );

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      HOST,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      PUBLIC_URL: `http://${HOST}:${lecternPort}`,
      JWT_SECRET: randomBytes(32).toString('base64url'),
      SIGNING_SECRET: randomBytes(32).toString('base64url'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
      RATE_LIMIT_MAX: RAISED_LIMIT,
      AUTH_RATE_LIMIT_MAX: RAISED_LIMIT,
    };
    for (const key of ['PORT', 'PGLITE_PATH', 'STORAGE_DIR']) delete env[key];
    if (options.database === 'embedded') {
      delete env.DATABASE_URL;
      delete env.REDIS_URL;
    } else {
      // Own Redis namespace: rate-limit counters and cache entries never meet another process's.
      env.REDIS_KEY_PREFIX = `lectern-bench:${randomBytes(4).toString('hex')}:`;
    }
    if (options.courses > 0) {
      // --demo adds the category tree, so generated courses are categorised and category facets count.
      log(`generating ${options.courses} courses (lectern seed --demo --courses)`);
      const seed = startChild(
        'seed',
        ['bin/lectern.js', 'seed', '--demo', '--courses', String(options.courses)],
        env,
      );
      await seed.exited;
      if (seed.proc.exitCode !== 0) throw new Error(`seeding failed:\n${seed.output.join('')}`);
    }
    log(`starting Lectern (${options.database}) on ${HOST}:${lecternPort}, DATA_DIR=${dataDir}`);
    const lectern = startChild('lectern', ['bin/lectern.js', 'serve', '--port', String(lecternPort)], env);

    const bootStart = Date.now();
    await waitFor200(bare, `http://${HOST}:${barePort}/bare`, 60_000);
    await waitFor200(lectern, `http://${HOST}:${lecternPort}/health/ready`, 180_000);
    const bootSeconds = round((Date.now() - bootStart) / 1000, 1);
    log(`both servers ready (Lectern ready after ${bootSeconds}s)`);

    const lecternUrl = `http://${HOST}:${lecternPort}`;
    const email = `bench-${randomBytes(6).toString('hex')}@example.com`;
    const reg = await fetch(`${lecternUrl}/api/auth/user/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email,
        password: `Bench-${randomBytes(12).toString('base64url')}`,
        name: 'Bench User',
      }),
    });
    const regBody = (await reg.json()) as { data?: { token?: string } };
    const token = regBody.data?.token;
    if (reg.status !== 200 || !token)
      throw new Error(`registering the bench user failed: HTTP ${reg.status} ${JSON.stringify(regBody)}`);
    const authorization = `Bearer ${token}`;
    const check = await fetch(`${lecternUrl}/api/auth/user/profile`, { headers: { authorization } });
    if (check.status !== 200) throw new Error(`profile with the bench token answered HTTP ${check.status}`);

    const targets: Target[] = [
      { name: 'bare Fastify', url: `http://${HOST}:${barePort}/bare` },
      { name: 'liveness', url: `${lecternUrl}/health/live` },
      {
        name: 'profile (auth + DB read)',
        url: `${lecternUrl}/api/auth/user/profile`,
        headers: { authorization },
      },
    ];
    if (options.courses > 0) {
      // The bare server sends the catalog page Lectern serves, as a size reference.
      const pageBody = await (await fetch(`${lecternUrl}/api/courses?limit=20`)).text();
      const stored = await fetch(`http://${HOST}:${barePort}/bare-page`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: pageBody,
      });
      if (!stored.ok) throw new Error(`storing the reference page failed: HTTP ${stored.status}`);
      log(`catalog page body: ${Buffer.byteLength(pageBody)} bytes`);
      // More distinct searches than a run can send, so none repeats (nothing a cache could answer).
      const searches = searchPaths(Math.max(20_000, (options.duration + options.warmup) * 2_000));
      targets.push(
        { name: 'bare Fastify, catalog-page body', url: `http://${HOST}:${barePort}/bare-page` },
        { name: 'catalog page (cached)', url: `${lecternUrl}/api/courses?limit=20` },
        { name: 'search (uncached)', url: `${lecternUrl}${searches[0]}`, paths: searches },
        { name: 'seed 002 catalog list', url: `${lecternUrl}/api/courses/catalog/list?difficulty=Beginner` },
      );
    }

    for (const target of targets) {
      target.pid = (target.url.startsWith(lecternUrl) ? lectern : bare).proc.pid;
    }
    const runs: Measured[][] = targets.map(() => []);
    for (let round = 1; round <= options.rounds; round++) {
      // The bare route comes first in every round: each ratio compares figures measured minutes apart.
      let bareResult: Result | undefined;
      for (const [i, target] of targets.entries()) {
        log(
          `${options.rounds > 1 ? `round ${round}/${options.rounds}, ` : ''}${target.name}: ` +
            `${options.warmup}s warm-up + ${options.duration}s × ${options.connections} connections`,
        );
        const { result, cpu } = await measure(target, options);
        bareResult ??= result;
        runs[i]!.push(summarise(target, result, bareResult, cpu));
        if (!running(lectern) || !running(bare)) throw new Error('a server exited during the run');
        // Requests that timed out on the client may still be queued on the server: let it drain so
        // the next target is measured on its own.
        await drain(`${lecternUrl}/health/ready`, log);
      }
    }
    const rows = runs.map(medianRound);

    const sha = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain']);
    const cpus = os.cpus();
    const report = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      command: [process.execPath, ...process.execArgv, ...process.argv.slice(1)].join(' '),
      invocation:
        process.env.npm_lifecycle_event === 'bench'
          ? `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim()
          : undefined,
      git: { commit: sha, dirty: dirty === undefined ? undefined : dirty.length > 0 },
      machine: {
        cpuModel: cpus[0]?.model,
        cores: cpus.length,
        totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        node: process.version,
        /** 1/5/15-minute load averages when the run started: other work on the machine skews figures. */
        loadAverageAtStart: loadAtStart.map((l) => round(l)),
      },
      settings: {
        database: options.database,
        databaseUrl:
          options.database === 'postgres' ? redactUrl(process.env.DATABASE_URL) : 'PGlite (embedded)',
        redisUrl:
          options.database === 'postgres'
            ? (redactUrl(process.env.REDIS_URL) ?? 'none')
            : 'none (in-process)',
        durationSeconds: options.duration,
        warmupSeconds: options.warmup,
        connections: options.connections,
        rounds: options.rounds,
        pipelining: 1,
        lecternEnv: {
          NODE_ENV: 'production',
          LOG_LEVEL: 'warn',
          RATE_LIMIT_MAX: RAISED_LIMIT,
          AUTH_RATE_LIMIT_MAX: RAISED_LIMIT,
        },
        lecternReadySeconds: bootSeconds,
      },
      targets: rows,
    };

    const table = markdownTable(rows);
    const markdown =
      `# Lectern benchmark — ${report.startedAt} (${options.database})\n\n` +
      `- machine: ${report.machine.cpuModel} × ${report.machine.cores} cores, ${report.machine.totalMemoryGiB} GiB, ${report.machine.platform}, Node ${report.machine.node}; load average at start ${report.machine.loadAverageAtStart.join(' / ')}\n` +
      `- commit: ${sha ?? 'unknown'}${report.git.dirty ? ' (with uncommitted changes)' : ''}\n` +
      `- command: \`${report.invocation ?? report.command}\`\n` +
      `- database: ${report.settings.databaseUrl}; Redis: ${report.settings.redisUrl}\n` +
      `- load: autocannon, ${options.connections} connections, ${options.warmup}s warm-up then ${options.duration}s per target, loopback, load generator on the same machine` +
      `${options.rounds > 1 ? `; ${options.rounds} rounds, each target's median round shown` : ''}\n\n` +
      `${table}\n\n` +
      'req/s vs bare: the target’s requests/s divided by the bare Fastify route’s requests/s in the same round (1.000 = as fast as bare Fastify).\n' +
      (rows.some((r) => r.cpuMsPerRequest)
        ? '\nCPU ms/req: user + system CPU time during the measured seconds divided by the requests answered, of the process serving the target and (PostgreSQL runs) of all PostgreSQL processes, from /proc. The machine has ' +
          `${report.machine.cores} cores shared by the load generator, the server and PostgreSQL: ${report.machine.cores} ÷ (server + PostgreSQL CPU per request) bounds the requests/s a target can reach here.\n`
        : '');

    mkdirSync(resultsDir, { recursive: true });
    const base = path.join(resultsDir, `${stamp}-${options.database}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown);
    console.log(`\n${table}\n`);
    log(`wrote ${path.relative(root, base)}.json and .md`);

    const failed = runs
      .map((targetRuns) => targetRuns.find((r) => r.errors > 0 || r.timeouts > 0 || r.non2xx > 0))
      .filter((r) => r !== undefined);
    if (failed.length) {
      log(`FAILED: errors or non-2xx responses on ${failed.map((r) => r.name).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await stopChildren(); // also deletes dataDir
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`[bench] ${signal}: stopping servers`);
    stopChildren().finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  console.error(
    `[bench] ${err instanceof UsageError ? '' : 'error: '}${err instanceof Error ? err.message : String(err)}`,
  );
  await stopChildren();
  process.exitCode = 1;
});
