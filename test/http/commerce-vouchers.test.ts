import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/platform/crypto.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string };

const CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/;
const GENERIC = 'Invalid or already used voucher code';

/**
 * Voucher management through the HTTP API: policy, admin batches, masked listing, CSV export and
 * disabling. Redemption itself (once ever, refusals, audit, limits, concurrency) is tested in
 * commerce-wallet.test.ts. Client addresses come from X-Forwarded-For (TRUST_PROXY) so redemptions
 * here never share a per-IP attempt budget.
 */
describe('vouchers', () => {
  let t: TestApp;
  let admin: Caller;
  let ipSeq = 0;
  const newIp = () => `10.1.${Math.floor(ipSeq / 200)}.${(ipSeq++ % 200) + 1}`;

  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_MAX: '100000', AUTH_RATE_LIMIT_MAX: '100000', TRUST_PROXY: 'true' });
    admin = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const voucherCount = async () =>
    Number((await sql('select count(*)::int as n from commerce.vouchers'))[0]!.n);

  const createBatch = (body: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'POST', url: '/api/admin/vouchers', token, payload: body });
  const batchOf = async (body: Record<string, unknown> = {}) => {
    const res = await createBatch({ count: 1, amount: 5000, currency: 'NGN', ...body });
    expect(res.status).toBe(201);
    return res.body.data as { batch: { id: number }; codes: Array<{ id: number; code: string }> };
  };
  const redeem = (user: Caller, code: unknown, opts: { ip?: string; key?: string } = {}) =>
    t.request({
      method: 'POST',
      url: '/api/wallet/vouchers/redeem',
      token: user.token,
      headers: {
        'x-forwarded-for': opts.ip ?? newIp(),
        ...(opts.key ? { 'idempotency-key': opts.key } : {}),
      },
      payload: { code },
    });
  const balances = async (user: Caller) =>
    (await t.request({ method: 'GET', url: '/api/wallet', token: user.token })).body.data.balances;
  const listVouchers = (query: string) =>
    t.request({ method: 'GET', url: `/api/admin/vouchers?${query}`, token: admin.token });
  const voucher = async (batchId: number, id: number) =>
    (await listVouchers(`batchId=${batchId}&limit=100`)).body.data.items.find(
      (v: { id: number }) => v.id === id,
    );
  const expectGenericRefusal = (res: { status: number; body: any }) => {
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      status: 'error',
      data: null,
      error: { errorCode: 400, message: GENERIC, details: [{ field: 'body.code', message: GENERIC }] },
      timestamp: expect.any(String),
    });
  };

  describe('policy', () => {
    it('lets only admins manage vouchers (401 without a token, 403 for students and instructors)', async () => {
      const { batch, codes } = await batchOf();
      const student = await registerStudent(t);
      const instructor = await createUserWithRole(t, 'instructor');
      const routes: Array<{ method: 'GET' | 'POST'; url: string; payload?: object }> = [
        { method: 'POST', url: '/api/admin/vouchers', payload: { count: 1, amount: 10, currency: 'NGN' } },
        { method: 'GET', url: '/api/admin/vouchers' },
        { method: 'GET', url: '/api/admin/vouchers/batches' },
        { method: 'GET', url: `/api/admin/vouchers/batches/${batch.id}/export` },
        { method: 'POST', url: `/api/admin/vouchers/${codes[0]!.id}/disable` },
        { method: 'POST', url: `/api/admin/vouchers/batches/${batch.id}/disable` },
      ];
      // The role is checked before the body: a student learns nothing from validation errors.
      const invalid = { method: 'POST' as const, url: '/api/admin/vouchers', payload: { count: 'many' } };
      expect((await t.request(invalid)).status).toBe(401);
      expect((await t.request({ ...invalid, token: student.token })).status).toBe(403);
      expect((await t.request({ ...invalid, token: admin.token })).status).toBe(400);
      const before = await voucherCount();
      for (const route of routes) {
        const none = await t.request(route);
        expect(none.status, route.url).toBe(401);
        expect(none.body.status).toBe('error');
        expect((await t.request({ ...route, token: student.token })).status, route.url).toBe(403);
        expect((await t.request({ ...route, token: instructor.token })).status, route.url).toBe(403);
      }
      expect(await voucherCount()).toBe(before);
      expect((await voucher(batch.id, codes[0]!.id)).status).toBe('active');
      for (const route of routes) {
        expect((await t.request({ ...route, token: admin.token })).status, route.url).toBeLessThan(300);
      }
    });

    it('lets every signed-in role redeem, and nobody without a token', async () => {
      const { codes } = await batchOf({ count: 3, amount: 10 });
      const none = await t.request({
        method: 'POST',
        url: '/api/wallet/vouchers/redeem',
        payload: { code: codes[0]!.code },
      });
      expect(none.status).toBe(401);
      const users = [
        await registerStudent(t),
        await createUserWithRole(t, 'instructor'),
        await createUserWithRole(t, 'admin'),
      ];
      for (const [i, user] of users.entries()) {
        const res = await redeem(user, codes[i]!.code);
        expect(res.status).toBe(200);
        expect(await balances(user)).toEqual([{ currency: 'NGN', balance: 10 }]);
      }
    });
  });

  describe('batches', () => {
    it('creates a batch and returns its plain codes once; the database keeps only hashes and sealed copies', async () => {
      const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
      const res = await createBatch({
        count: 5,
        amount: 2500.5,
        currency: 'ngn',
        expiresAt,
        description: ' Launch ',
      });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('success');
      const { batch, codes } = res.body.data;
      expect(batch).toEqual({
        id: expect.any(Number),
        count: 5,
        amount: 2500.5,
        currency: 'NGN',
        expiresAt,
        description: 'Launch',
        createdBy: admin.userId,
        createdAt: expect.any(String),
      });
      expect(codes).toHaveLength(5);
      for (const { id, code } of codes) {
        expect(code).toMatch(CODE);
        const [row] = await sql(
          'select code_hash, code_sealed, code_hint, amount_minor, currency, status from commerce.vouchers where id = $1',
          [id],
        );
        const canonical = code.replace(/-/g, '');
        expect(row).toMatchObject({
          code_hash: sha256Hex(canonical),
          code_hint: canonical.slice(-4),
          amount_minor: 250050,
          currency: 'NGN',
          status: 'active',
        });
        expect(row!.code_sealed).not.toContain(canonical);
        expect(t.app.platform.sealer.open(row!.code_sealed)).toBe(canonical);
      }
      const audit = await t.request({
        method: 'GET',
        url: `/api/admin/audit?action=commerce.voucher.batch_created&actorId=${admin.userId}&limit=100`,
        token: admin.token,
      });
      const details = audit.body.data.items.map((i: { detail: string }) => JSON.parse(i.detail));
      expect(details).toContainEqual({ batchId: batch.id, count: 5, amountMinor: 250050, currency: 'NGN' });
    });

    it('creates 1000 distinct codes of 140 bits in one batch', async () => {
      const res = await createBatch({ count: 1000, amount: 1, currency: 'USD' });
      expect(res.status).toBe(201);
      const codes: string[] = res.body.data.codes.map((c: { code: string }) => c.code);
      expect(codes).toHaveLength(1000);
      expect(new Set(codes).size).toBe(1000);
      const symbols = new Set<string>();
      for (const code of codes) {
        expect(code).toMatch(CODE);
        expect(code.replace(/-/g, '')).toHaveLength(28); // 28 × 5 bits = 140 bits
        for (const c of code.replace(/-/g, '')) symbols.add(c);
      }
      // All 32 symbols of the alphabet occur, and none of I, L, O, U.
      expect(symbols.size).toBe(32);
      expect([...symbols].join('')).not.toMatch(/[ILOU]/);
      const ids = res.body.data.codes.map((c: { id: number }) => c.id);
      expect(new Set(ids).size).toBe(1000);
      const [row] = await sql('select count(*)::int as n from commerce.vouchers where batch_id = $1', [
        res.body.data.batch.id,
      ]);
      expect(row!.n).toBe(1000);
    });

    it('refuses bad input field by field and creates nothing', async () => {
      const valid = { count: 2, amount: 100, currency: 'NGN' };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...valid, count: 0 }, 'body.count'],
        [{ ...valid, count: 1001 }, 'body.count'],
        [{ ...valid, count: 1.5 }, 'body.count'],
        [{ ...valid, count: '2' }, 'body.count'],
        [{ amount: 100, currency: 'NGN' }, 'body.count'],
        [{ ...valid, amount: 0 }, 'body.amount'],
        [{ ...valid, amount: -5 }, 'body.amount'],
        [{ ...valid, amount: 1.234 }, 'body.amount'],
        [{ ...valid, amount: 2_000_000 }, 'body.amount'],
        [{ ...valid, amount: '100' }, 'body.amount'],
        [{ ...valid, currency: 'XYZ' }, 'body.currency'],
        [{ count: 2, amount: 100 }, 'body.currency'],
        [{ ...valid, expiresAt: '2001-01-01T00:00:00Z' }, 'body.expiresAt'],
        [{ ...valid, expiresAt: 'tomorrow' }, 'body.expiresAt'],
        [{ ...valid, description: 'x'.repeat(301) }, 'body.description'],
        [{ ...valid, description: '   ' }, 'body.description'],
        [{ ...valid, code: 'CHOSEN' }, 'body'],
      ];
      const before = await voucherCount();
      const batchesBefore = (await sql('select count(*)::int as n from commerce.voucher_batches'))[0]!.n;
      for (const [body, field] of cases) {
        const res = await createBatch(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.status).toBe('error');
        expect(
          res.body.error.details.map((d: { field: string }) => d.field),
          JSON.stringify(body),
        ).toContain(field);
      }
      const noBody = await t.request({ method: 'POST', url: '/api/admin/vouchers', token: admin.token });
      expect(noBody.status).toBe(400);
      expect(await voucherCount()).toBe(before);
      expect((await sql('select count(*)::int as n from commerce.voucher_batches'))[0]!.n).toBe(
        batchesBefore,
      );
    });

    it('lists batches newest first with counts per status', async () => {
      const { batch, codes } = await batchOf({ count: 3, amount: 7 });
      const student = await registerStudent(t);
      expect((await redeem(student, codes[0]!.code)).status).toBe(200);
      await t.request({
        method: 'POST',
        url: `/api/admin/vouchers/${codes[1]!.id}/disable`,
        token: admin.token,
      });
      const res = await t.request({
        method: 'GET',
        url: '/api/admin/vouchers/batches?limit=1',
        token: admin.token,
      });
      expect(res.status).toBe(200);
      expect(res.body.data.items).toEqual([
        expect.objectContaining({
          id: batch.id,
          count: 3,
          amount: 7,
          counts: { active: 1, redeemed: 1, disabled: 1, expired: 0 },
        }),
      ]);
      expect(res.body.data.pageInfo.hasMore).toBe(true);
      const next = await t.request({
        method: 'GET',
        url: `/api/admin/vouchers/batches?limit=1&cursor=${res.body.data.pageInfo.nextCursor}`,
        token: admin.token,
      });
      expect(next.body.data.items[0].id).toBeLessThan(batch.id);
      for (const q of ['limit=0', 'limit=101', 'cursor=%%%', 'extra=1']) {
        const bad = await t.request({
          method: 'GET',
          url: `/api/admin/vouchers/batches?${q}`,
          token: admin.token,
        });
        expect(bad.status, q).toBe(400);
        expect(bad.body.error.details.length, q).toBeGreaterThan(0);
      }
    });
  });

  describe('listing and export', () => {
    it('lists vouchers with masked codes, filtered by batch and status, page by page', async () => {
      const { batch, codes } = await batchOf({ count: 5, amount: 12.5 });
      const student = await registerStudent(t);
      expect((await redeem(student, codes[4]!.code)).status).toBe(200);

      const res = await listVouchers(`batchId=${batch.id}&limit=2`);
      expect(res.status).toBe(200);
      const text = JSON.stringify(res.body);
      for (const { code } of codes) {
        expect(text).not.toContain(code);
        expect(text).not.toContain(code.replace(/-/g, ''));
      }
      const first = res.body.data.items[0];
      expect(first).toEqual({
        id: codes[4]!.id,
        batchId: batch.id,
        codeHint: codes[4]!.code.slice(-4),
        maskedCode: `****-****-****-****-****-****-${codes[4]!.code.slice(-4)}`,
        amount: 12.5,
        currency: 'NGN',
        status: 'redeemed',
        expiresAt: null,
        redeemedBy: student.userId,
        redeemedAt: expect.any(String),
        disabledAt: null,
        createdAt: expect.any(String),
      });
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: any } = await listVouchers(
          `batchId=${batch.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.body.data.items.map((v: { id: number }) => v.id));
        cursor = page.body.data.pageInfo.nextCursor;
      } while (cursor);
      expect(seen).toEqual(codes.map((c) => c.id).reverse());

      const redeemed = await listVouchers(`batchId=${batch.id}&status=redeemed`);
      expect(redeemed.body.data.items.map((v: { id: number }) => v.id)).toEqual([codes[4]!.id]);
      const active = await listVouchers(`batchId=${batch.id}&status=active`);
      expect(active.body.data.items).toHaveLength(4);
    });

    it('refuses bad listing queries with field details', async () => {
      for (const [q, field] of [
        ['status=used', 'querystring.status'],
        ['batchId=abc', 'querystring.batchId'],
        ['batchId=0', 'querystring.batchId'],
        ['limit=0', 'querystring.limit'],
        ['limit=101', 'querystring.limit'],
        ['cursor=not-a-cursor', 'querystring.cursor'],
        ['code=ABCD', 'querystring'],
      ] as const) {
        const res = await listVouchers(q);
        expect(res.status, q).toBe(400);
        expect(
          res.body.error.details.map((d: { field: string }) => d.field),
          q,
        ).toContain(field);
      }
    });

    it('exports a batch as a CSV attachment with the plain codes and their state', async () => {
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const { batch, codes } = await batchOf({ count: 3, amount: 5000, expiresAt });
      const student = await registerStudent(t);
      expect((await redeem(student, codes[0]!.code.toLowerCase())).status).toBe(200);
      await t.request({
        method: 'POST',
        url: `/api/admin/vouchers/${codes[1]!.id}/disable`,
        token: admin.token,
      });

      const res = await t.request({
        method: 'GET',
        url: `/api/admin/vouchers/batches/${batch.id}/export`,
        token: admin.token,
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(res.headers['content-disposition']).toBe(`attachment; filename="voucher-batch-${batch.id}.csv"`);
      const lines = (res.body as string).trimEnd().split('\r\n');
      expect(lines[0]).toBe('code,amount,currency,status,expiresAt,redeemedAt,redeemedBy');
      expect(lines).toHaveLength(4);
      const rows = lines.slice(1).map((l) => l.split(','));
      expect(rows.map((r) => r[0])).toEqual(codes.map((c) => c.code));
      expect(rows.map((r) => r.slice(1, 5))).toEqual([
        ['5000.00', 'NGN', 'redeemed', expiresAt],
        ['5000.00', 'NGN', 'disabled', expiresAt],
        ['5000.00', 'NGN', 'active', expiresAt],
      ]);
      expect(rows[0]![5]).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
      expect(rows[0]![6]).toBe(String(student.userId));
      expect(rows[1]!.slice(5)).toEqual(['', '']);

      const audit = await t.request({
        method: 'GET',
        url: `/api/admin/audit?action=commerce.voucher.batch_exported&actorId=${admin.userId}`,
        token: admin.token,
      });
      expect(audit.body.data.items.map((i: { detail: string }) => JSON.parse(i.detail))).toContainEqual({
        batchId: batch.id,
        count: 3,
      });

      const missing = await t.request({
        method: 'GET',
        url: '/api/admin/vouchers/batches/999999/export',
        token: admin.token,
      });
      expect(missing.status).toBe(404);
      expect(missing.body.status).toBe('error');
      const bad = await t.request({
        method: 'GET',
        url: '/api/admin/vouchers/batches/abc/export',
        token: admin.token,
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].field).toBe('params.id');
    });
  });

  describe('disabling', () => {
    it('disables one voucher, which then cannot be redeemed; redeemed ones cannot be disabled', async () => {
      const { batch, codes } = await batchOf({ count: 2 });
      const disable = (id: number | string) =>
        t.request({ method: 'POST', url: `/api/admin/vouchers/${id}/disable`, token: admin.token });
      const res = await disable(codes[0]!.id);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        id: codes[0]!.id,
        status: 'disabled',
        disabledAt: expect.any(String),
      });
      expect((await disable(codes[0]!.id)).body.data.status).toBe('disabled');

      const student = await registerStudent(t);
      expectGenericRefusal(await redeem(student, codes[0]!.code));
      expect(await balances(student)).toEqual([]);

      expect((await redeem(student, codes[1]!.code)).status).toBe(200);
      const redeemed = await disable(codes[1]!.id);
      expect(redeemed.status).toBe(409);
      expect((await voucher(batch.id, codes[1]!.id)).status).toBe('redeemed');

      expect((await disable(999999)).status).toBe(404);
      const bad = await disable('x1');
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].field).toBe('params.id');
    });

    it('disables the unused vouchers of a batch and leaves redeemed ones redeemed', async () => {
      const { batch, codes } = await batchOf({ count: 3, amount: 40 });
      const student = await registerStudent(t);
      expect((await redeem(student, codes[0]!.code)).status).toBe(200);
      const res = await t.request({
        method: 'POST',
        url: `/api/admin/vouchers/batches/${batch.id}/disable`,
        token: admin.token,
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ batchId: batch.id, disabled: 2 });
      const statuses = (await listVouchers(`batchId=${batch.id}`)).body.data.items.map(
        (v: { status: string }) => v.status,
      );
      expect(statuses).toEqual(['disabled', 'disabled', 'redeemed']);
      const other = await registerStudent(t);
      expectGenericRefusal(await redeem(other, codes[2]!.code));
      expect(await balances(student)).toEqual([{ currency: 'NGN', balance: 40 }]);
      expect(await balances(other)).toEqual([]);

      const missing = await t.request({
        method: 'POST',
        url: '/api/admin/vouchers/batches/999999/disable',
        token: admin.token,
      });
      expect(missing.status).toBe(404);
      const bad = await t.request({
        method: 'POST',
        url: '/api/admin/vouchers/batches/-1/disable',
        token: admin.token,
      });
      expect(bad.status).toBe(400);
    });
  });
});
