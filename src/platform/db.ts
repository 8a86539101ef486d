import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Config } from './config.ts';

export type Db = PgDatabase<PgQueryResultHKT>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** What repository functions take: the database or an open transaction. */
export type DbOrTx = Db | Tx;

/** A row from raw SQL: untyped by nature, narrowed by the caller. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SqlRow = Record<string, any>;

/** The minimal raw-SQL interface pg-boss and other low-level callers use. */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: SqlRow[] }>;
}

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** Raw SQL on the shared connection(s); multi-statement text without parameters is allowed. */
  executor: SqlExecutor;
  /** Raw SQL inside an open drizzle transaction, so low-level writes commit or roll back with it. */
  executorFor(tx: DbOrTx): SqlExecutor;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url));
const MIGRATION_LOCK_KEY = 7_263_115_001;

interface RawClient {
  query(text: string, values?: unknown[]): Promise<{ rows: SqlRow[] }>;
}

/**
 * Drizzle keeps the driver client of a session (pg PoolClient or PGlite Transaction) on
 * `session.client`. It is not public API, so it is reached for in this one place, and
 * db.test.ts proves it is still there.
 */
function rawClientOf(dbOrTx: DbOrTx): RawClient {
  const client = (dbOrTx as unknown as { session?: { client?: RawClient } }).session?.client;
  if (!client || typeof client.query !== 'function')
    throw new Error('Cannot reach the driver client of this session');
  return client;
}

function executorOf(client: RawClient, multi?: (text: string) => Promise<{ rows: SqlRow[] }>): SqlExecutor {
  return {
    async executeSql(text, values = []) {
      if (values.length === 0 && multi) return multi(text);
      const result = await client.query(text, values);
      return { rows: result.rows };
    },
  };
}

async function openPglite(path: string): Promise<Database> {
  if (path !== 'memory://') mkdirSync(path, { recursive: true });
  // Extensions the migrations create must be compiled into PGlite's WASM build and loaded here.
  const client = await PGlite.create(path, { extensions: { pg_trgm } });
  const db = drizzlePglite(client) as unknown as Db;
  // PGlite's extended protocol takes one statement at a time; pg-boss sends schema scripts as one string.
  const multi = async (text: string) => {
    const results = await client.exec(text);
    return { rows: results.at(-1)?.rows ?? [] };
  };
  return {
    kind: 'pglite',
    db,
    executor: executorOf(client, multi),
    executorFor: (tx) => executorOf(rawClientOf(tx)),
    migrate: () => migratePglite(drizzlePglite(client), { migrationsFolder }),
    ping: async () => {
      await client.query('select 1');
    },
    close: () => client.close(),
  };
}

async function openPostgres(url: string, poolMax: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax, application_name: 'lectern' });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it. Readiness reports real outages.
  });
  const db = drizzlePg(pool) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    executor: executorOf(pool),
    executorFor: (tx) => executorOf(rawClientOf(tx)),
    async migrate() {
      // Several processes may start at once; one migrates while the others wait.
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await migratePg(drizzlePg(client), { migrationsFolder });
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
        client.release();
      }
    },
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => pool.end(),
  };
}

export function openDatabase(config: Config['database']): Promise<Database> {
  return config.kind === 'postgres' ? openPostgres(config.url, config.poolMax) : openPglite(config.path);
}

/** True when `err` (possibly wrapped by drizzle) is a unique violation, optionally of one constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  for (
    let e = err as { code?: string; constraint?: string; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (e.code === '23505') return !constraint || e.constraint === constraint;
  }
  return false;
}
