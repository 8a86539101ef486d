/**
 * Runs once before the suite. With DATABASE_URL set, it checks the server answers so a
 * misconfigured run fails with one clear line instead of every test timing out.
 */
import pg from 'pg';

export default async function setup() {
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(`DATABASE_URL is set but PostgreSQL does not answer: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
