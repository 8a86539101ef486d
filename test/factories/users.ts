import { randomBytes } from 'node:crypto';
import type { Role } from '../../src/platform/http/auth.ts';
import type { TestApp } from '../helpers/app.ts';

export const PASSWORD = 'Lectern-test-Pass-2026';

export const uniqueEmail = (label = 'user') => `${label}.${randomBytes(5).toString('hex')}@example.test`;

/** Registers a student through the public API and returns its tokens. */
export async function registerStudent(t: TestApp, overrides: Record<string, unknown> = {}) {
  const body = { email: uniqueEmail(), password: PASSWORD, name: 'Test Student', ...overrides };
  const res = await t.request({ method: 'POST', url: '/api/auth/user/register', payload: body });
  if (res.status !== 200) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body.data, email: body.email as string, password: body.password as string } as {
    userId: number;
    token: string;
    refreshToken: string;
    email: string;
    password: string;
  };
}

/** Creates a user of any role through the identity module and logs in through the API. */
export async function createUserWithRole(t: TestApp, role: Role) {
  const email = uniqueEmail(role);
  await t.app.modules.identity.createUser({ email, password: PASSWORD, name: `Test ${role}`, role });
  const res = await t.request({
    method: 'POST',
    url: '/api/auth/user/login',
    payload: { email, password: PASSWORD },
  });
  return { ...res.body.data, email } as {
    userId: number;
    token: string;
    refreshToken: string;
    email: string;
  };
}
