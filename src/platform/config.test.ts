import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lectern-config-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('gives the embedded defaults when nothing is set', () => {
    const dataDir = tempDir();
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config.env).toBe('development');
    expect(config.port).toBe(3000);
    expect(config.database).toEqual({ kind: 'pglite', path: path.join(dataDir, 'db') });
    expect(config.redis).toBeUndefined();
    expect(config.storage).toMatchObject({ kind: 'local', dir: path.join(dataDir, 'files') });
    expect(config.mail.smtpUrl).toBeUndefined();
    expect(config.auth.accessTtlSeconds).toBe(900);
  });

  it('keeps generated development secrets across restarts', () => {
    const dataDir = tempDir();
    const first = loadConfig({ DATA_DIR: dataDir });
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(first.auth.jwtSecret).toHaveLength(43);
    expect(second.auth.jwtSecret).toBe(first.auth.jwtSecret);
    expect(second.signingSecret).toBe(first.signingSecret);
    expect(JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')).jwtSecret).toBe(
      first.auth.jwtSecret,
    );
  });

  it('switches to the production services when their variables are set', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: 'postgres://u@db:5432/lectern',
      REDIS_URL: 'redis://cache:6379',
      S3_BUCKET: 'media',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      SMTP_URL: 'smtp://mail:1025',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: '10.0.0.1,10.0.0.2',
    });
    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgres://u@db:5432/lectern' });
    expect(config.redis?.url).toBe('redis://cache:6379');
    expect(config.storage.kind).toBe('s3');
    expect(config.mail.smtpUrl).toBe('smtp://mail:1025');
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.http.trustProxy).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
      JWT_SECRET: 'short',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'DATABASE_URL',
      'JWT_SECRET',
      'LOG_LEVEL',
      'PORT',
    ]);
  });

  it('requires explicit secrets and a public URL in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production', DATA_DIR: tempDir() });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'ENCRYPTION_KEY',
      'JWT_SECRET',
      'PUBLIC_URL',
      'SIGNING_SECRET',
    ]);
  });

  it('requires S3 credentials with a bucket', () => {
    expect(
      problemsOf({ NODE_ENV: 'test', S3_BUCKET: 'media' })
        .map((p) => p.split(':')[0])
        .sort(),
    ).toEqual(['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']);
  });

  it('treats empty strings as unset and ignores unrelated variables', () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: '', REDIS_URL: '', HOME: '/root' });
    expect(config.database.kind).toBe('pglite');
    expect(config.redis).toBeUndefined();
  });
});
