import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger } from '../../src/modules/commerce/commerce.ledger.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string };
type Entry = {
  id: number;
  transactionId: number;
  kind: string;
  description: string;
  reference: string;
  referenceType: string;
  amount: number;
  balanceAfter: number;
  currency: string;
  createdAt: string;
};

const GENERIC = 'Invalid or already used voucher code';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The wallet through the HTTP API: balances, the statement, the ledger behind them, and voucher
 * top-ups (once ever, generic refusals, expiry, audit, attempt limits, idempotent retries,
 * concurrent redeemers). Client
 * addresses come from X-Forwarded-For (TRUST_PROXY) so each test has its own per-IP budget.
 */
describe('wallet', () => {
  let t: TestApp;
  let admin: Caller;
  let ipSeq = 0;
  const newIp = () => `10.2.${Math.floor(ipSeq / 200)}.${(ipSeq++ % 200) + 1}`;

  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_MAX: '100000', AUTH_RATE_LIMIT_MAX: '100000', TRUST_PROXY: 'true' });
    admin = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;

  const batchOf = async (body: Record<string, unknown> = {}) => {
    const res = await t.request({
      method: 'POST',
      url: '/api/admin/vouchers',
      token: admin.token,
      payload: { count: 1, amount: 5000, currency: 'NGN', ...body },
    });
    expect(res.status).toBe(201);
    return res.body.data as { batch: { id: number }; codes: Array<{ id: number; code: string }> };
  };
  /** Creates `count` vouchers of `amount` and returns their codes. */
  const vouchers = async (count: number, amount: number, currency = 'NGN') =>
    (await batchOf({ count, amount, currency })).codes.map((c) => c.code);
  const redeem = (user: Caller, code: string, opts: { ip?: string; key?: string } = {}) =>
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
  const balances = async (user: Caller) => (await wallet(user)).body.data.balances;
  const listVouchers = (query: string) =>
    t.request({ method: 'GET', url: `/api/admin/vouchers?${query}`, token: admin.token });
  const voucherStatus = async (id: number) =>
    (await sql('select status from commerce.vouchers where id = $1', [id]))[0]!.status as string;
  const expectGenericRefusal = (res: { status: number; body: any }) => {
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      errorCode: 400,
      message: GENERIC,
      details: [{ field: 'body.code', message: GENERIC }],
    });
  };
  const wallet = (user: Caller) => t.request({ method: 'GET', url: '/api/wallet', token: user.token });
  const statement = (user: Caller, query = '') =>
    t.request({
      method: 'GET',
      url: `/api/wallet/transactions${query ? `?${query}` : ''}`,
      token: user.token,
    });

  it('needs a token, and every role has a wallet', async () => {
    for (const url of ['/api/wallet', '/api/wallet/transactions']) {
      const res = await t.request({ method: 'GET', url });
      expect(res.status).toBe(401);
      expect(res.body.status).toBe('error');
    }
    for (const user of [
      await registerStudent(t),
      await createUserWithRole(t, 'instructor'),
      await createUserWithRole(t, 'admin'),
    ]) {
      const res = await wallet(user);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'success', data: { balances: [] }, timestamp: expect.any(String) });
      const page = await statement(user);
      expect(page.status).toBe(200);
      expect(page.body.data).toEqual({ items: [], pageInfo: { nextCursor: null, hasMore: false } });
    }
  });

  it('shows a balance per currency and a signed statement, newest first', async () => {
    const student = await registerStudent(t);
    const [ngnA, ngnB] = await vouchers(2, 1500.25);
    const [usd] = await vouchers(1, 20, 'USD');
    expect((await redeem(student, ngnA!)).status).toBe(200);
    expect((await redeem(student, usd!)).status).toBe(200);
    expect((await redeem(student, ngnB!)).status).toBe(200);

    expect((await wallet(student)).body.data.balances).toEqual([
      { currency: 'NGN', balance: 3000.5 },
      { currency: 'USD', balance: 20 },
    ]);
    const res = await statement(student);
    expect(res.status).toBe(200);
    const items: Entry[] = res.body.data.items;
    expect(items.map((i) => [i.amount, i.balanceAfter, i.currency])).toEqual([
      [1500.25, 3000.5, 'NGN'],
      [20, 20, 'USD'],
      [1500.25, 1500.25, 'NGN'],
    ]);
    expect(items[0]).toEqual({
      id: expect.any(Number),
      transactionId: expect.any(Number),
      kind: 'voucher_redemption',
      description: `Voucher top-up (…${ngnB!.slice(-4)})`,
      reference: expect.stringMatching(/^voucher:\d+$/),
      referenceType: 'voucher',
      amount: 1500.25,
      balanceAfter: 3000.5,
      currency: 'NGN',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    const usdOnly = await statement(student, 'currency=usd');
    expect(usdOnly.body.data.items.map((i: Entry) => i.currency)).toEqual(['USD']);
  });

  it('pages through the statement with a keyset cursor', async () => {
    const student = await registerStudent(t);
    const codes = await vouchers(5, 10);
    for (const code of codes) expect((await redeem(student, code)).status).toBe(200);
    const seen: Entry[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { body: any } = await statement(student, `limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.body.data.items);
      cursor = res.body.data.pageInfo.nextCursor;
      expect(res.body.data.pageInfo.hasMore).toBe(cursor !== null);
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((e) => e.balanceAfter)).toEqual([50, 40, 30, 20, 10]);
    expect(new Set(seen.map((e) => e.id)).size).toBe(5);
  });

  it('shows each user only their own wallet', async () => {
    const owner = await registerStudent(t);
    const other = await registerStudent(t);
    const [code] = await vouchers(1, 99);
    expect((await redeem(owner, code!)).status).toBe(200);
    expect((await wallet(other)).body.data.balances).toEqual([]);
    expect((await statement(other)).body.data.items).toEqual([]);
    // A balance is not readable through the body or query either: these are not parameters.
    const probe = await statement(other, `userId=${owner.userId}`);
    expect(probe.status).toBe(400);
  });

  it('refuses bad statement queries with field details', async () => {
    const student = await registerStudent(t);
    for (const [q, field] of [
      ['currency=XYZ', 'querystring.currency'],
      ['currency=', 'querystring.currency'],
      ['limit=0', 'querystring.limit'],
      ['limit=101', 'querystring.limit'],
      ['limit=two', 'querystring.limit'],
      ['cursor=%21%21', 'querystring.cursor'],
      [`cursor=${Buffer.from('0').toString('base64url')}`, 'querystring.cursor'],
      ['sort=asc', 'querystring'],
    ] as const) {
      const res = await statement(student, q);
      expect(res.status, q).toBe(400);
      expect(res.body.status).toBe('error');
      expect(
        res.body.error.details.map((d: { field: string }) => d.field),
        q,
      ).toContain(field);
    }
  });

  it('credits every one of 20 vouchers redeemed in parallel by one user', async () => {
    const student = await registerStudent(t);
    const codes = await vouchers(20, 12.34);
    const results = await Promise.all(codes.map((code) => redeem(student, code)));
    expect(results.map((r) => r.status)).toEqual(codes.map(() => 200));
    expect((await wallet(student)).body.data.balances).toEqual([{ currency: 'NGN', balance: 246.8 }]);
    const items: Entry[] = (await statement(student, 'limit=100')).body.data.items;
    expect(items).toHaveLength(20);
    // Each credit saw the balance left by the one before it: 12.34, 24.68, …, 246.80.
    expect(items.map((e) => Math.round(e.balanceAfter * 100)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => 1234 * (i + 1)),
    );
    expect(items.map((e) => e.balanceAfter)[0]).toBe(246.8);
  });

  it('keeps the ledger balanced: every transaction sums to zero and so do all accounts', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => registerStudent(t)));
    const codes = await vouchers(8, 7.77);
    await Promise.all(codes.map((code, i) => redeem(users[i % 4]!, code)));

    const unbalanced = await sql(`
      select transaction_id from commerce.ledger_entries
      group by transaction_id having sum(amount_minor) <> 0`);
    expect(unbalanced).toEqual([]);
    // Wallets carry their balance; system accounts' balances are the sums of their entries.
    const totals = await sql(`
      select currency, sum(balance)::bigint::text as total from (
        select currency, balance_minor as balance from commerce.ledger_accounts where kind = 'user_wallet'
        union all
        select a.currency, e.amount_minor from commerce.ledger_accounts a
          join commerce.ledger_entries e on e.account_id = a.id where a.kind <> 'user_wallet'
      ) b group by currency`);
    expect(totals.length).toBeGreaterThan(0);
    for (const row of totals) expect(row.total).toBe('0');
    // Each redemption is two entries: the voucher float gives, the wallet receives.
    const shapes = await sql(`
      select t.kind, count(*)::int as entries, min(e.amount_minor)::bigint::text as debit, max(e.amount_minor)::bigint::text as credit
      from commerce.ledger_transactions t join commerce.ledger_entries e on e.transaction_id = t.id
      where t.kind = 'voucher_redemption' group by t.id, t.kind`);
    expect(shapes.length).toBeGreaterThanOrEqual(8);
    for (const s of shapes) expect(Number(s.debit)).toBe(-Number(s.credit));
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });

    const wallets = await Promise.all(users.map(async (u) => (await wallet(u)).body.data.balances));
    expect(wallets).toEqual(users.map(() => [{ currency: 'NGN', balance: 15.54 }]));
  });

  describe('voucher top-ups', () => {
    it('credits the wallet once, ever; every spelling of the code works', async () => {
      const { codes } = await batchOf({ count: 2, amount: 5000 });
      const student = await registerStudent(t);
      const res = await redeem(student, ` ${codes[0]!.code.toLowerCase().replace(/-/g, ' ')} `);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: 'success',
        data: {
          voucherId: codes[0]!.id,
          amount: 5000,
          currency: 'NGN',
          balance: 5000,
          transactionId: expect.any(Number),
        },
        timestamp: expect.any(String),
      });
      expect((await redeem(student, codes[1]!.code.replace(/-/g, ''))).body.data.balance).toBe(10000);

      const again = await redeem(student, codes[0]!.code);
      expectGenericRefusal(again);
      const other = await registerStudent(t);
      expectGenericRefusal(await redeem(other, codes[0]!.code));
      expect(await balances(student)).toEqual([{ currency: 'NGN', balance: 10000 }]);
      expect(await balances(other)).toEqual([]);
    });

    it('refuses expired vouchers with the same answer', async () => {
      const { batch, codes } = await batchOf({ expiresAt: new Date(Date.now() + 1500).toISOString() });
      await sleep(2000);
      const student = await registerStudent(t);
      expectGenericRefusal(await redeem(student, codes[0]!.code));
      expect(await balances(student)).toEqual([]);
      expect((await listVouchers(`batchId=${batch.id}`)).body.data.items[0].status).toBe('expired');
      const expired = await listVouchers(`batchId=${batch.id}&status=expired`);
      expect(expired.body.data.items).toHaveLength(1);
    });

    it('gives unknown, malformed, disabled and used codes one indistinguishable answer', async () => {
      const { codes } = await batchOf({ count: 2 });
      await t.request({
        method: 'POST',
        url: `/api/admin/vouchers/${codes[0]!.id}/disable`,
        token: admin.token,
      });
      const first = await registerStudent(t);
      expect((await redeem(first, codes[1]!.code)).status).toBe(200);
      const student = await registerStudent(t);
      const unknown = codes[1]!.code.slice(0, -1) + (codes[1]!.code.endsWith('0') ? '1' : '0');
      for (const code of [unknown, 'HELLO', codes[0]!.code, codes[1]!.code]) {
        expectGenericRefusal(await redeem(student, code));
      }
    });

    it('refuses bad input field by field without counting an attempt or changing anything', async () => {
      const student = await registerStudent(t);
      const ip = newIp();
      for (const [payload, field] of [
        [{}, 'body.code'],
        [{ code: 12345 }, 'body.code'],
        [{ code: '' }, 'body.code'],
        [{ code: '   ' }, 'body.code'],
        [{ code: 'A'.repeat(65) }, 'body.code'],
        [{ code: 'ABCD', userId: 1 }, 'body'],
      ] as const) {
        const res = await t.request({
          method: 'POST',
          url: '/api/wallet/vouchers/redeem',
          token: student.token,
          headers: { 'x-forwarded-for': ip },
          payload,
        });
        expect(res.status, JSON.stringify(payload)).toBe(400);
        expect(res.body.error.message).toBe('Invalid input data');
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
      const badKey = await t.request({
        method: 'POST',
        url: '/api/wallet/vouchers/redeem',
        token: student.token,
        headers: { 'idempotency-key': 'has spaces in it' },
        payload: { code: 'ABCD' },
      });
      expect(badKey.status).toBe(400);
      expect(await balances(student)).toEqual([]);
      const audited = await t.request({
        method: 'GET',
        url: `/api/admin/audit?action=commerce.voucher.redeem_failed&actorId=${student.userId}`,
        token: admin.token,
      });
      expect(audited.body.data.items).toEqual([]);
    });

    it('audits each failure with its reason and a hint, never the code', async () => {
      const { codes } = await batchOf({ count: 2 });
      await t.request({
        method: 'POST',
        url: `/api/admin/vouchers/${codes[0]!.id}/disable`,
        token: admin.token,
      });
      const student = await registerStudent(t);
      const ip = newIp();
      const unknown = 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZ9Q';
      await redeem(student, unknown, { ip });
      await redeem(student, codes[0]!.code, { ip });
      await redeem(student, 'short', { ip });
      expect((await redeem(student, codes[1]!.code, { ip })).status).toBe(200);
      await redeem(student, codes[1]!.code, { ip });

      const res = await t.request({
        method: 'GET',
        url: `/api/admin/audit?action=commerce.voucher.&actorId=${student.userId}`,
        token: admin.token,
      });
      expect(res.status).toBe(200);
      const items = res.body.data.items as Array<{
        action: string;
        success: boolean;
        ip: string;
        detail: string;
      }>;
      expect(items.map((i) => [i.action, i.success])).toEqual([
        ['commerce.voucher.redeem_failed', false],
        ['commerce.voucher.redeemed', true],
        ['commerce.voucher.redeem_failed', false],
        ['commerce.voucher.redeem_failed', false],
        ['commerce.voucher.redeem_failed', false],
      ]);
      expect(items.every((i) => i.ip === ip)).toBe(true);
      expect(items.map((i) => JSON.parse(i.detail))).toEqual([
        { reason: 'already_redeemed', hint: codes[1]!.code.slice(-4), voucherId: codes[1]!.id },
        { voucherId: codes[1]!.id, amountMinor: 500000, currency: 'NGN' },
        { reason: 'malformed', hint: null },
        { reason: 'disabled', hint: codes[0]!.code.slice(-4), voucherId: codes[0]!.id },
        { reason: 'unknown', hint: 'ZZ9Q' },
      ]);
      const text = JSON.stringify(items);
      for (const code of [unknown, codes[0]!.code, codes[1]!.code]) {
        expect(text).not.toContain(code);
        expect(text).not.toContain(code.replace(/-/g, ''));
      }
    });

    it('refuses further attempts with 429 after 10 failures of one user, even with a valid code', async () => {
      const { codes } = await batchOf({ count: 1 });
      const student = await registerStudent(t);
      for (let i = 0; i < 10; i++) {
        expectGenericRefusal(
          await redeem(student, `ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZ${String(i).padStart(2, '0')}`),
        );
      }
      const limited = await redeem(student, codes[0]!.code);
      expect(limited.status).toBe(429);
      expect(limited.body.status).toBe('error');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(900);
      expect(await balances(student)).toEqual([]);
      const [row] = await sql('select status from commerce.vouchers where id = $1', [codes[0]!.id]);
      expect(row!.status).toBe('active');

      // Another user is not affected.
      const other = await registerStudent(t);
      expect((await redeem(other, codes[0]!.code)).status).toBe(200);
    });

    it('counts parallel wrong guesses exactly: of 25 at once, 10 are refused as invalid and 15 with 429', async () => {
      const { codes } = await batchOf({ count: 1 });
      const student = await registerStudent(t);
      const guesses = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          redeem(student, `ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-Z${String(i).padStart(2, '0')}Y`),
        ),
      );
      const statuses = guesses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 400)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(15);
      const audited = await sql(
        `select count(*)::int as n from identity.audit_log
          where actor_id = $1 and action = 'commerce.voucher.redeem_failed'`,
        [student.userId],
      );
      expect(audited).toEqual([{ n: 10 }]);
      expect((await redeem(student, codes[0]!.code)).status).toBe(429);
    });

    it('limits failures per client address across accounts (30 per window)', async () => {
      const { codes } = await batchOf({ count: 1 });
      const ip = newIp();
      for (let u = 0; u < 4; u++) {
        const user = await registerStudent(t);
        for (let i = 0; i < 8; i++) await redeem(user, `ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-Z${u}${i}X`, { ip });
      }
      const fresh = await registerStudent(t);
      const limited = await redeem(fresh, codes[0]!.code, { ip });
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBeDefined();
      expect((await redeem(fresh, codes[0]!.code, { ip: newIp() })).status).toBe(200);
    });

    it('replays the first answer for a repeated Idempotency-Key and credits once', async () => {
      const { codes } = await batchOf({ count: 2, amount: 300 });
      const student = await registerStudent(t);
      const first = await redeem(student, codes[0]!.code, { key: 'redeem-1' });
      expect(first.status).toBe(200);
      const replay = await redeem(student, codes[0]!.code, { key: 'redeem-1' });
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await balances(student)).toEqual([{ currency: 'NGN', balance: 300 }]);

      const conflict = await redeem(student, codes[1]!.code, { key: 'redeem-1' });
      expect(conflict.status).toBe(422);
      expect(await voucherStatus(codes[1]!.id)).toBe('active');
      // Without a key, a retry is a second attempt and is refused.
      expectGenericRefusal(await redeem(student, codes[0]!.code));
    });

    it('credits exactly one of 10 users redeeming the same voucher at once', async () => {
      const { codes } = await batchOf({ count: 1, amount: 750 });
      const users = await Promise.all(Array.from({ length: 10 }, () => registerStudent(t)));
      const results = await Promise.all(users.map((u) => redeem(u, codes[0]!.code)));
      const winners = results.flatMap((r, i) => (r.status === 200 ? [users[i]!] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status !== 200) expectGenericRefusal(r);

      const wallets = await Promise.all(users.map(balances));
      expect(wallets.filter((b) => b.length > 0)).toEqual([[{ currency: 'NGN', balance: 750 }]]);
      const [row] = await sql('select status, redeemed_by from commerce.vouchers where id = $1', [
        codes[0]!.id,
      ]);
      expect(row).toEqual({ status: 'redeemed', redeemed_by: winners[0]!.userId });
      const postings = await sql(
        `select count(*)::int as n from commerce.ledger_transactions where reference = $1`,
        [`voucher:${codes[0]!.id}`],
      );
      expect(postings[0]!.n).toBe(1);
    });
  });
});
