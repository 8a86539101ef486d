import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import type { ProcessRole } from '../../src/platform/platform.ts';
import { testEnv } from './env.ts';

export interface TestApp {
  app: FastifyInstance;
  env: Record<string, string>;
  close(): Promise<void>;
  /** app.inject with JSON parsing of the response body. */
  request(
    options: InjectOptions & { token?: string },
  ): Promise<{ status: number; headers: Record<string, unknown>; body: any }>;
}

/** Builds and readies a full app on a private database (PGlite in memory, or a fresh PostgreSQL database). */
export async function createTestApp(
  overrides: Record<string, string> = {},
  options: { role?: ProcessRole; setup?: (app: FastifyInstance) => void | Promise<void> } = {},
): Promise<TestApp> {
  const { env, cleanup } = await testEnv(overrides);
  const app = await buildApp({ config: loadConfig(env), role: options.role ?? 'all' });
  await options.setup?.(app);
  await app.ready();
  return {
    app,
    env,
    async close() {
      await app.close();
      await cleanup();
    },
    async request({ token, headers, ...options }) {
      const res = await app.inject({
        ...options,
        headers: { ...(headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      let body: unknown = res.body;
      if (String(res.headers['content-type'] ?? '').includes('json') && res.body) body = JSON.parse(res.body);
      return { status: res.statusCode, headers: res.headers, body };
    },
  };
}

/** Polls until `check` returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  stepMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Waits until a job has completed, so "nothing was sent" or "nothing is left" is checked after the fact. */
export async function jobDone(t: TestApp, id: string | null) {
  await waitFor(async () => id !== null && (await t.app.platform.jobs.admin.get(id))?.state === 'completed');
}
