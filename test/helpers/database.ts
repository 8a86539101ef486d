import { openDatabase, type Database } from '../../src/platform/db.ts';
import { freshDatabaseEnv } from './env.ts';

/** A migrated database of its own: PGlite in memory, or a fresh PostgreSQL database when DATABASE_URL is set. */
export async function openTestDatabase(): Promise<{ database: Database; close(): Promise<void> }> {
  const fresh = await freshDatabaseEnv();
  const url = fresh.env.DATABASE_URL;
  const database = await openDatabase(
    url ? { kind: 'postgres', url, poolMax: 5 } : { kind: 'pglite', path: 'memory://' },
  );
  await database.migrate();
  return {
    database,
    async close() {
      await database.close();
      await fresh.drop();
    },
  };
}
