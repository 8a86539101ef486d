import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courseInstructors } from '../../src/modules/catalog/catalog.tables.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { fundWallet, paidCourse, testCard, verifiedStudent } from '../factories/commerce.ts';
import { createUserWithRole } from '../factories/users.ts';

type User = { userId: number; token: string };
const code = (prefix = 'C') => `${prefix}${randomBytes(4).toString('hex')}`.toUpperCase();

describe('coupons', () => {
  let t: TestApp;
  let admin: User;
  let owner: User;
  let coTeacher: User;
  let otherInstructor: User;
  let student: User;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', RATE_LIMIT_MAX: '10000' });
    admin = await createUserWithRole(t, 'admin');
    owner = await createUserWithRole(t, 'instructor');
    coTeacher = await createUserWithRole(t, 'instructor');
    otherInstructor = await createUserWithRole(t, 'instructor');
    student = await verifiedStudent(t);
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const create = (user: User | undefined, payload: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/coupons', token: user?.token, payload });
  const patch = (user: User, id: number | string, payload: Record<string, unknown>) =>
    t.request({ method: 'PATCH', url: `/api/coupons/${id}`, token: user.token, payload });
  const list = (user: User, query = '') =>
    t.request({ method: 'GET', url: `/api/coupons${query}`, token: user.token });
  const validate = (user: User | undefined, payload: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/coupons/validate', token: user?.token, payload });
  const pay = (user: User, courseId: number, amount: number, couponCode?: string, method = 'card') =>
    t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: user.token,
      payload: {
        userId: user.userId,
        courseId,
        amount,
        method,
        ...(method === 'card' ? { cardDetails: testCard() } : {}),
        ...(couponCode ? { couponCode } : {}),
      },
    });
  const ownedCourse = async (priceMinor = 500000, currency = 'NGN') => {
    const course = await paidCourse(t, { ownerId: owner.userId, priceMinor, currency });
    await t.app.platform.db.insert(courseInstructors).values([
      { courseId: course.id, userId: owner.userId, role: 'owner' },
      { courseId: course.id, userId: coTeacher.userId, role: 'co' },
    ]);
    return course;
  };
  const couponCount = async () =>
    Number((await sql('select count(*)::int as n from commerce.coupons'))[0]!.n);

  it('admins create site-wide and course coupons; codes are upper-cased and unique (409)', async () => {
    const c = code('site');
    const res = await create(admin, { code: `  ${c.toLowerCase()} `, kind: 'percent', percentOff: 10 });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      code: c,
      kind: 'percent',
      percentOff: 10,
      amountOff: null,
      currency: null,
      courseId: null,
      perUserLimit: 1,
      maxRedemptions: null,
      active: true,
      redemptions: 0,
      createdBy: admin.userId,
    });
    const dup = await create(admin, { code: c, kind: 'percent', percentOff: 20 });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toBe('A coupon with this code already exists');

    const course = await paidCourse(t);
    const fixed = await create(admin, {
      code: code(),
      kind: 'fixed',
      amountOff: 1000.5,
      currency: 'NGN',
      courseId: course.id,
    });
    expect(fixed.status).toBe(201);
    expect(fixed.body.data).toMatchObject({ amountOff: 1000.5, currency: 'NGN', courseId: course.id });
    const [row] = await sql('select amount_off_minor from commerce.coupons where id = $1', [
      fixed.body.data.couponId,
    ]);
    expect(row!.amount_off_minor).toBe(100050);
  });

  it('instructors create coupons only for courses they own or co-teach; students cannot at all', async () => {
    const course = await ownedCourse();
    const before = await couponCount();
    expect(
      (await create(owner, { code: code(), kind: 'percent', percentOff: 15, courseId: course.id })).status,
    ).toBe(201);
    expect(
      (await create(coTeacher, { code: code(), kind: 'percent', percentOff: 15, courseId: course.id }))
        .status,
    ).toBe(201);
    const notMine = await create(otherInstructor, {
      code: code(),
      kind: 'percent',
      percentOff: 15,
      courseId: course.id,
    });
    expect(notMine.status).toBe(403);
    expect(notMine.body.error.message).toBe('You can only create coupons for courses you teach');
    const siteWide = await create(owner, { code: code(), kind: 'percent', percentOff: 15 });
    expect(siteWide.status).toBe(403);
    expect(
      (await create(student, { code: code(), kind: 'percent', percentOff: 15, courseId: course.id })).status,
    ).toBe(403);
    expect((await create(undefined, { code: code(), kind: 'percent', percentOff: 15 })).status).toBe(401);
    expect(
      (await create(admin, { code: code(), kind: 'percent', percentOff: 15, courseId: 999999 })).status,
    ).toBe(404);
    const wrongCurrency = await create(owner, {
      code: code(),
      kind: 'fixed',
      amountOff: 10,
      currency: 'USD',
      courseId: course.id,
    });
    expect(wrongCurrency.status).toBe(400);
    expect(wrongCurrency.body.error.details).toEqual([
      { field: 'body.currency', message: 'Must be the course currency (NGN)' },
    ]);
    expect(await couponCount()).toBe(before + 2);
  });

  it('refuses bad coupon input with field details and creates nothing', async () => {
    const before = await couponCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: 'percent', percentOff: 10 }, 'body.code'],
      [{ code: 'ab', kind: 'percent', percentOff: 10 }, 'body.code'],
      [{ code: 'has space', kind: 'percent', percentOff: 10 }, 'body.code'],
      [{ code: 'X'.repeat(41), kind: 'percent', percentOff: 10 }, 'body.code'],
      [{ code: code(), kind: 'bogus' }, 'body.kind'],
      [{ code: code(), kind: 'percent' }, 'body.percentOff'],
      [{ code: code(), kind: 'percent', percentOff: 0 }, 'body.percentOff'],
      [{ code: code(), kind: 'percent', percentOff: 101 }, 'body.percentOff'],
      [{ code: code(), kind: 'percent', percentOff: 12.5 }, 'body.percentOff'],
      [{ code: code(), kind: 'percent', percentOff: 10, amountOff: 5 }, 'body.amountOff'],
      [{ code: code(), kind: 'fixed', amountOff: 5 }, 'body.currency'],
      [{ code: code(), kind: 'fixed', currency: 'NGN' }, 'body.amountOff'],
      [{ code: code(), kind: 'fixed', amountOff: 5.555, currency: 'NGN' }, 'body.amountOff'],
      [{ code: code(), kind: 'fixed', amountOff: 5, currency: 'XXX' }, 'body.currency'],
      // Far above any price, and above what the integer column holds in minor units.
      [{ code: code(), kind: 'fixed', amountOff: 100_000_000, currency: 'NGN' }, 'body.amountOff'],
      [{ code: code(), kind: 'fixed', amountOff: 10_000_000.01, currency: 'NGN' }, 'body.amountOff'],
      [{ code: code(), kind: 'percent', percentOff: 10, startsAt: 'yesterday' }, 'body.startsAt'],
      [
        {
          code: code(),
          kind: 'percent',
          percentOff: 10,
          startsAt: '2030-01-02T00:00:00Z',
          endsAt: '2030-01-01T00:00:00Z',
        },
        'body.endsAt',
      ],
      [{ code: code(), kind: 'percent', percentOff: 10, maxRedemptions: 0 }, 'body.maxRedemptions'],
      [{ code: code(), kind: 'percent', percentOff: 10, perUserLimit: 0 }, 'body.perUserLimit'],
      [{ code: code(), kind: 'percent', percentOff: 10, courseId: -1 }, 'body.courseId'],
      [{ code: code(), kind: 'percent', percentOff: 10, surprise: 1 }, 'body'],
    ];
    for (const [payload, field] of cases) {
      const res = await create(admin, payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect(
        res.body.error.details.map((d: { field: string }) => d.field),
        JSON.stringify(payload),
      ).toContain(field);
    }
    expect(await couponCount()).toBe(before);
    // The largest fixed amount is stored and read back exactly.
    const largest = await create(admin, {
      code: code(),
      kind: 'fixed',
      amountOff: 10_000_000,
      currency: 'NGN',
    });
    expect(largest.status).toBe(201);
    expect(largest.body.data.amountOff).toBe(10_000_000);
  });

  it('lists (admins all, instructors their own) and patches the window, limits and active flag', async () => {
    const course = await ownedCourse();
    const mine = await create(owner, {
      code: code('own'),
      kind: 'percent',
      percentOff: 5,
      courseId: course.id,
    });
    const adminOne = await create(admin, { code: code('adm'), kind: 'percent', percentOff: 5 });

    const ownList = await list(owner);
    expect(ownList.status).toBe(200);
    expect(ownList.body.data.items.every((c: { createdBy: number }) => c.createdBy === owner.userId)).toBe(
      true,
    );
    expect(ownList.body.data.items.map((c: { couponId: number }) => c.couponId)).toContain(
      mine.body.data.couponId,
    );
    const all = await list(admin, '?limit=100');
    const ids = all.body.data.items.map((c: { couponId: number }) => c.couponId);
    expect(ids).toEqual(expect.arrayContaining([mine.body.data.couponId, adminOne.body.data.couponId]));
    const page1 = await list(admin, '?limit=1');
    expect(page1.body.data.pageInfo.hasMore).toBe(true);
    const page2 = await list(admin, `?limit=1&cursor=${page1.body.data.pageInfo.nextCursor}`);
    expect(page2.body.data.items[0].couponId).toBeLessThan(page1.body.data.items[0].couponId);
    const byCourse = await list(admin, `?courseId=${course.id}`);
    expect(byCourse.body.data.items.map((c: { couponId: number }) => c.couponId)).toEqual([
      mine.body.data.couponId,
    ]);
    expect((await list(student)).status).toBe(403);
    expect((await list(admin, '?cursor=zzz')).status).toBe(400);
    expect((await list(admin, '?limit=1000')).status).toBe(400);

    const id = mine.body.data.couponId;
    const changed = await patch(owner, id, {
      active: false,
      startsAt: '2026-01-01T00:00:00Z',
      endsAt: '2036-01-01T00:00:00+01:00',
      maxRedemptions: 3,
      perUserLimit: 2,
    });
    expect(changed.status).toBe(200);
    expect(changed.body.data).toMatchObject({
      active: false,
      startsAt: '2026-01-01T00:00:00.000Z',
      endsAt: '2035-12-31T23:00:00.000Z',
      maxRedemptions: 3,
      perUserLimit: 2,
      percentOff: 5,
    });
    const cleared = await patch(admin, id, { maxRedemptions: null, endsAt: null });
    expect(cleared.body.data).toMatchObject({
      maxRedemptions: null,
      endsAt: null,
      startsAt: '2026-01-01T00:00:00.000Z',
    });
    const inverted = await patch(owner, id, { endsAt: '2025-01-01T00:00:00Z' });
    expect(inverted.status).toBe(400);
    expect(inverted.body.error.details).toEqual([
      { field: 'body.endsAt', message: 'Must be after startsAt' },
    ]);

    expect((await patch(otherInstructor, id, { active: true })).status).toBe(404);
    expect((await patch(owner, adminOne.body.data.couponId, { active: false })).status).toBe(404);
    expect((await patch(student, id, { active: true })).status).toBe(403);
    expect((await patch(admin, 999999, { active: true })).status).toBe(404);
    expect((await patch(admin, id, {})).status).toBe(400);
    expect((await patch(admin, id, { code: 'NEW' })).status).toBe(400);
    expect((await patch(admin, id, { perUserLimit: 'two' })).status).toBe(400);
    expect((await patch(admin, 'abc', { active: true })).status).toBe(400);
  });

  it('validate answers the price with the coupon, or why it does not apply', async () => {
    const course = await ownedCourse(500000);
    const otherCourse = await paidCourse(t, { priceMinor: 300000 });
    const usdCourse = await paidCourse(t, { priceMinor: 10000, currency: 'USD' });
    const pct = code('pct');
    const fixed = code('fix');
    const future = code('fut');
    const past = code('old');
    const off = code('off');
    await create(admin, { code: pct, kind: 'percent', percentOff: 33 });
    await create(owner, {
      code: fixed,
      kind: 'fixed',
      amountOff: 1200,
      currency: 'NGN',
      courseId: course.id,
    });
    await create(admin, { code: future, kind: 'percent', percentOff: 10, startsAt: '2099-01-01T00:00:00Z' });
    await create(admin, { code: past, kind: 'percent', percentOff: 10, endsAt: '2020-01-01T00:00:00Z' });
    await create(admin, { code: off, kind: 'percent', percentOff: 10, active: false });
    const big = code('big');
    await create(admin, { code: big, kind: 'fixed', amountOff: 99999, currency: 'NGN' });

    const check = (c: string, courseId = course.id) => validate(student, { code: c, courseId });
    expect((await check(pct.toLowerCase())).body.data).toEqual({
      valid: true,
      code: pct,
      courseId: course.id,
      listPrice: 5000,
      discount: 1650,
      amount: 3350,
      currency: 'NGN',
    });
    expect((await check(fixed)).body.data).toMatchObject({ valid: true, discount: 1200, amount: 3800 });
    expect((await check(big)).body.data).toMatchObject({ valid: true, discount: 5000, amount: 0 });
    const reasons: Array<[string, number, string]> = [
      ['NOPE', course.id, 'Coupon not found'],
      [future, course.id, 'Coupon is not active yet'],
      [past, course.id, 'Coupon has expired'],
      [off, course.id, 'Coupon is inactive'],
      [fixed, otherCourse.id, 'Coupon does not apply to this course'],
      [big, usdCourse.id, 'Coupon does not apply to this currency'],
    ];
    for (const [c, courseId, reason] of reasons) {
      const res = await check(c, courseId);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ valid: false, discount: 0, reason });
    }
    expect((await check(pct, 999999)).status).toBe(404);
    expect((await validate(undefined, { code: pct, courseId: course.id })).status).toBe(401);
    for (const bad of [
      { code: pct },
      { courseId: course.id },
      { code: '', courseId: course.id },
      { code: pct, courseId: 'x' },
    ]) {
      const res = await validate(student, bad);
      expect(res.status).toBe(400);
      expect(res.body.error.details.length).toBeGreaterThan(0);
    }
  });

  it('applies at initiate: the discounted amount is charged, the snapshot kept, a misfit code is 400', async () => {
    const buyer = await verifiedStudent(t);
    const course = await ownedCourse(500000);
    const c = code('buy');
    await create(owner, { code: c, kind: 'percent', percentOff: 20, courseId: course.id });

    const full = await pay(buyer, course.id, 5000, c);
    expect(full.status).toBe(400);
    expect(full.body.error.details).toEqual([
      { field: 'body.amount', message: 'Must be 4000 NGN, the price after the coupon' },
    ]);
    const wrong = await pay(buyer, course.id, 4000, 'NOSUCH');
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details).toEqual([{ field: 'body.couponCode', message: 'Coupon not found' }]);
    expect(
      (await sql('select count(*)::int as n from commerce.orders where user_id = $1', [buyer.userId]))[0]!.n,
    ).toBe(0);

    const ok = await pay(buyer, course.id, 4000, c.toLowerCase());
    expect(ok.status).toBe(201);
    expect(ok.body.data.amount).toBe(4000);
    const order = (
      await t.request({ method: 'GET', url: `/api/orders/${ok.body.data.orderId}`, token: buyer.token })
    ).body.data;
    expect(order).toMatchObject({
      status: 'paid',
      listPrice: 5000,
      discount: 1000,
      amount: 4000,
      couponCode: c,
      coupon: { code: c },
    });
    expect(order.history.map((h: { reason: string }) => h.reason)).toEqual([
      'Order created',
      `Priced 4000 NGN with coupon ${c}`,
      expect.stringMatching(/^Paid by card/),
    ]);
    const validated = await validate(buyer, { code: c, courseId: course.id });
    expect(validated.body.data).toMatchObject({ valid: false, reason: 'You have already used this coupon' });
  });

  it('a coupon covering the whole price: amount 0, paid without charging, no ledger movement', async () => {
    const buyer = await verifiedStudent(t);
    const course = await paidCourse(t);
    const c = code('free');
    await create(admin, { code: c, kind: 'percent', percentOff: 100, perUserLimit: 5 });
    expect((await validate(buyer, { code: c, courseId: course.id })).body.data).toMatchObject({
      valid: true,
      amount: 0,
    });

    const res = await pay(buyer, course.id, 0, c, 'wallet');
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ status: 'success', amount: 0, message: 'Paid in full by coupon' });
    const order = (
      await t.request({ method: 'GET', url: `/api/orders/${res.body.data.orderId}`, token: buyer.token })
    ).body.data;
    expect(order).toMatchObject({ status: 'paid', listPrice: 5000, discount: 5000, amount: 0 });
    const ledger = await sql('select id from commerce.ledger_transactions where reference = $1', [
      `purchase:payment:${res.body.data.paymentId}`,
    ]);
    expect(ledger).toEqual([]);

    const byCard = await pay(buyer, (await paidCourse(t)).id, 0, c, 'card');
    expect(byCard.status).toBe(201);
    expect(byCard.body.data).toMatchObject({
      status: 'success',
      amount: 0,
      card: { brand: 'visa', last4: '4242' },
    });
  });

  it('per-user limit; a declined payment releases the use; a pending order re-priced keeps one use', async () => {
    const buyer = await verifiedStudent(t);
    const course = await paidCourse(t, { priceMinor: 100000 });
    const c = code('lim');
    const coupon = (
      await create(admin, { code: c, kind: 'fixed', amountOff: 100, currency: 'NGN', maxRedemptions: 2 })
    ).body.data;
    const uses = async () =>
      (await list(admin, '?limit=100')).body.data.items.find(
        (x: { couponId: number }) => x.couponId === coupon.couponId,
      ).redemptions;

    // Declined: the order fails and its reserved use is released.
    const declined = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: buyer.token,
      payload: {
        userId: buyer.userId,
        courseId: course.id,
        amount: 900,
        method: 'card',
        couponCode: c,
        cardDetails: testCard('4000000000000002'),
      },
    });
    expect(declined.status).toBe(402);
    expect(await uses()).toBe(0);

    // Gateway error: the order stays pending and keeps its use; the retry re-prices it without a second use.
    const flaky = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: buyer.token,
      payload: {
        userId: buyer.userId,
        courseId: course.id,
        amount: 900,
        method: 'card',
        couponCode: c,
        cardDetails: testCard('4000000000000119'),
      },
    });
    expect(flaky.status).toBe(502);
    expect(await uses()).toBe(1);
    expect((await validate(buyer, { code: c, courseId: course.id })).body.data.valid).toBe(true);
    // A tampered retry changes nothing; the real one re-prices the same order with one use.
    expect((await pay(buyer, course.id, 900)).status).toBe(400);
    const paid = await pay(buyer, course.id, 900, c);
    expect(paid.status).toBe(201);
    expect(await uses()).toBe(1);

    // Same buyer, another course: per-user limit 1 reached.
    const second = await paidCourse(t, { priceMinor: 100000 });
    const again = await pay(buyer, second.id, 900, c);
    expect(again.status).toBe(400);
    expect(again.body.error.details).toEqual([
      { field: 'body.couponCode', message: 'You have already used this coupon' },
    ]);

    // Wallet checkout with the coupon by another buyer: the second and last use.
    const walletBuyer = await verifiedStudent(t);
    await fundWallet(t, walletBuyer.userId, 90000);
    expect((await pay(walletBuyer, second.id, 900, c, 'wallet')).status).toBe(201);
    const third = await verifiedStudent(t);
    const full = await pay(third, second.id, 900, c);
    expect(full.body.error.details).toEqual([
      { field: 'body.couponCode', message: 'Coupon usage limit reached' },
    ]);
    expect(await uses()).toBe(2);
  });
});
