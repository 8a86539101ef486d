import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../helpers/http-receiver.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { createUserWithRole } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

const sql = async (t: TestApp, text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;
const endpointCount = async (t: TestApp) =>
  (await sql(t, 'select count(*)::int as n from notifications.webhook_endpoints'))[0]!.n as number;

async function publish(t: TestApp, name: string, payload: Record<string, unknown>) {
  return t.app.platform.db.transaction((tx) => t.app.platform.events.publish(tx, name, payload));
}

describe('webhook targets when private addresses are not allowed', () => {
  let t: TestApp;
  let admin: Caller;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
      WEBHOOKS_RETRY_LIMIT: '0',
    });
    admin = await createUserWithRole(t, 'admin');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it('refuses loopback, private, link-local and hosts resolving to them, creating nothing', async () => {
    const port = new URL(receiver.url).port;
    for (const url of [
      `http://127.0.0.1:${port}/hook`,
      'http://10.0.0.8/hook',
      'http://192.168.1.20/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      `http://[::1]:${port}/hook`,
      'http://[fd00::1]/hook',
      `http://localhost:${port}/hook`,
    ]) {
      const res = await t.request({
        method: 'POST',
        url: '/api/admin/webhooks',
        token: admin.token,
        payload: { url, events: ['commerce.payment.succeeded'] },
      });
      expect(res.status, url).toBe(400);
      expect(res.body.error.details, url).toEqual([
        { field: 'body.url', message: expect.stringMatching(/public addresses only/) },
      ]);
    }
    expect(await endpointCount(t)).toBe(0);
    expect(receiver.received).toEqual([]);
  });

  it('checks the address again at delivery and sends nothing to a private one', async () => {
    // As if the host had resolved to a public address at registration and to loopback now.
    const [row] = await sql(
      t,
      `insert into notifications.webhook_endpoints (url, events, secret_sealed, created_by)
       values ($1, array['commerce.payment.succeeded'], $2, $3) returning id`,
      [`${receiver.url}/rebound`, t.app.platform.sealer.seal('whsec_test'), admin.userId],
    );
    const event = await publish(t, 'commerce.payment.succeeded', { paymentId: 5 });
    const delivery = await waitFor(async () => {
      const res = await t.request({
        method: 'GET',
        url: `/api/admin/webhooks/${row!.id}/deliveries`,
        token: admin.token,
      });
      const item = res.body.data.items[0];
      return item?.status === 'dead' ? item : undefined;
    });
    expect(delivery.eventId).toBe(event.id);
    expect(delivery.attempts).toEqual([
      expect.objectContaining({
        statusCode: null,
        error: expect.stringMatching(/^Refused: 127\.0\.0\.1 is a loopback address/),
      }),
    ]);
    expect(receiver.received).toEqual([]);
  });
});
