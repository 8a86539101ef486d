import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/platform/db.ts';
import { testEnv } from './helpers/env.ts';

const BIN = new URL('../bin/lectern.js', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('lectern audit verify', () => {
  let env: Record<string, string>;
  let dataDir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const made = await testEnv({ NODE_ENV: 'development', LOG_LEVEL: 'warn' });
    env = made.env;
    dataDir = made.dataDir;
    cleanup = made.cleanup;
    // The CLI runs on the real on-disk embedded database (or the test's PostgreSQL database).
    delete env.PGLITE_PATH;
  });
  afterAll(() => cleanup());

  /** Runs SQL on the CLI's database while no CLI process has it open (PGlite is single-process). */
  async function withDatabase<T>(fn: (exec: (text: string) => Promise<unknown[]>) => Promise<T>) {
    const database = await openDatabase(
      env.DATABASE_URL
        ? { kind: 'postgres', url: env.DATABASE_URL, poolMax: 1 }
        : { kind: 'pglite', path: path.join(dataDir, 'db') },
    );
    try {
      return await fn(async (text) => (await database.executor.executeSql(text)).rows);
    } finally {
      await database.close();
    }
  }

  it('reports an intact chain, then names the first tampered row', async () => {
    for (const email of ['one@school.example', 'two@school.example', 'three@school.example']) {
      const res = await run(['create-admin', '--email', email, '--password', 'a-long-admin-passphrase'], env);
      expect(res.stderr).toBe('');
    }
    const intact = await run(['audit', 'verify'], env);
    expect(intact.stderr).toBe('');
    expect(intact.code).toBe(0);
    expect(intact.stdout.trim()).toBe('Audit chain intact: 3 rows checked.');

    const target = await withDatabase(async (exec) => {
      const rows = (await exec('select id from identity.audit_log order by id')) as { id: number }[];
      const id = rows[1]!.id;
      await exec(`update identity.audit_log set detail = 'cli, role student' where id = ${id}`);
      return id;
    });
    const broken = await run(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('');
    expect(broken.stderr.trim()).toBe(
      `lectern: audit chain broken at row ${target}: its content does not match its hash (the row was modified)`,
    );
  }, 240_000);

  it('refuses an unknown audit subcommand', async () => {
    const res = await run(['audit', 'fix'], env);
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe('lectern: unknown audit command "fix"; use: lectern audit verify');
  }, 60_000);
});
