import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from './helpers/env.ts';

const BIN = new URL('../bin/lectern.js', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>, input?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });

describe('lectern CLI', () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const made = await testEnv({ NODE_ENV: 'development', LOG_LEVEL: 'warn' });
    env = made.env;
    cleanup = made.cleanup;
    // The CLI runs on the real on-disk embedded database, not memory.
    delete env.PGLITE_PATH;
  });
  afterAll(() => cleanup());

  it('prints usage', async () => {
    const res = await run(['help'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Usage: lectern <command>');
  });

  it('fails with one clear line on an unknown command', async () => {
    const res = await run(['frobnicate'], env);
    expect(res.code).toBe(1);
    expect(res.stderr.split('\n')[0]).toBe('lectern: unknown command "frobnicate"');
  });

  it('names each bad variable and exits non-zero', async () => {
    const res = await run(['migrate'], { ...env, PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('PORT:');
    expect(res.stderr).toContain('LOG_LEVEL:');
  });

  it('migrates, creates an admin once, and seeds demo data idempotently', async () => {
    const migrate = await run(['migrate'], env);
    expect(migrate.stderr).toBe('');
    expect(migrate.code).toBe(0);

    const admin = await run(
      [
        'create-admin',
        '--email',
        'root@school.example',
        '--password',
        'a-long-admin-passphrase',
        '--name',
        'Root',
      ],
      env,
    );
    expect(admin.stderr).toBe('');
    expect(admin.stdout).toMatch(/Created admin root@school.example \(id \d+\)/);

    const again = await run(
      ['create-admin', '--email', 'ROOT@school.example', '--password', 'a-long-admin-passphrase'],
      env,
    );
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('lectern: Email already registered');

    const weak = await run(
      ['create-admin', '--email', 'weak@school.example', '--password', 'password1'],
      env,
    );
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('body.password: This password is too common');

    const prompted = await run(
      ['create-admin', '--name', 'Piped'],
      env,
      'piped@school.example\nanother-long-passphrase\n',
    );
    expect(prompted.stderr).toBe('');
    expect(prompted.stdout).toContain('Created admin piped@school.example');

    const seed = await run(['seed', '--demo'], env);
    expect(seed.code).toBe(0);
    expect(seed.stdout).toContain('24 accounts created, 0 already present');
    expect(seed.stdout).toContain('Demo catalog: 14 categories, 40 courses with sections and lessons.');
    const reseed = await run(['seed', '--demo'], env);
    expect(reseed.stdout).toContain('0 accounts created, 24 already present');
    expect(reseed.stdout).toContain('Demo catalog already present.');

    const generated = await run(['seed', '--courses', '250'], env);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toContain('Generated 250 published courses');
    expect(generated.stderr).toContain('100% 250/250');
    const bad = await run(['seed', '--courses', 'many'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe(
      'lectern: --courses must be a whole number from 1 to 1000000 (got "many")',
    );
  }, 240_000);

  it('refuses a bad role or port', async () => {
    expect((await run(['serve', '--role', 'boss'], env)).stderr).toContain(
      '--role must be all, api or worker',
    );
    expect((await run(['serve', '--port', '99999'], env)).code).toBe(1);
  });

  it('serves, answers readiness, and shuts down cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], {
      env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info' },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 60_000;
    let ready: Response | undefined;
    while (Date.now() < deadline) {
      ready = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
      if (ready?.ok) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ready?.status).toBe(200);
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/user/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'root@school.example', password: 'a-long-admin-passphrase' }),
    });
    expect(login.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shutdown complete');
  }, 90_000);

  it('keeps docs/openapi.json identical to the generated document', async () => {
    const res = await run(['openapi', '--check', 'docs/openapi.json'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
