import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** The real services the suite runs against when set; otherwise everything is embedded. */
export const realDatabaseUrl = process.env.DATABASE_URL;
export const realRedisUrl = process.env.REDIS_URL;

const suffix = () => randomBytes(6).toString('hex');

/**
 * A fresh, empty PostgreSQL database (one per test app, so job queues and rows never mix
 * between files running in parallel), or PGlite in memory when no DATABASE_URL is set.
 */
export async function freshDatabaseEnv(): Promise<{
  env: Record<string, string>;
  drop: () => Promise<void>;
}> {
  if (!realDatabaseUrl) return { env: { PGLITE_PATH: 'memory://' }, drop: async () => undefined };
  const name = `lectern_t_${suffix()}`;
  const admin = new pg.Client({ connectionString: realDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(realDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    drop: async () => {
      const c = new pg.Client({ connectionString: realDatabaseUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Environment for a test process: silent logs, fast job polling, a private data dir and Redis prefix. */
export async function testEnv(overrides: Record<string, string> = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lectern-test-'));
  const db = await freshDatabaseEnv();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: dataDir,
    JOBS_POLL_INTERVAL_SECONDS: '0.5',
    JOBS_RETRY_DELAY_SECONDS: '1',
    ...db.env,
    ...(realRedisUrl ? { REDIS_URL: realRedisUrl, REDIS_KEY_PREFIX: `lectern-test:${suffix()}:` } : {}),
    ...overrides,
  };
  return {
    env,
    dataDir,
    async cleanup() {
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
