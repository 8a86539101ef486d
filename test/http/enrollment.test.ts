import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { payByCard, verifiedStudent } from '../factories/commerce.ts';
import { enroll, insertPayment, staffedCourse, updateEnrollment } from '../factories/enrollment.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

let t: TestApp;
let owner: Caller;
let co: Caller;
let otherInstructor: Caller;
let admin: Caller;

const sql = async (text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;
const enrollmentRows = (userId: number, courseId: number) =>
  sql('select * from enrollment.enrollments where user_id = $1 and course_id = $2 order by id', [
    userId,
    courseId,
  ]);
const freeCourse = (overrides = {}) => staffedCourse(t, { owner, coInstructors: [co] }, overrides);
const paidCourse = (overrides = {}) =>
  staffedCourse(t, { owner, coInstructors: [co] }, { priceMinor: 500000, currency: 'NGN', ...overrides });

beforeAll(async () => {
  t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  [owner, co, otherInstructor, admin] = await Promise.all([
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'admin'),
  ]);
});
afterAll(() => t.close());

describe('POST /api/enrollments/enroll', () => {
  it('enrolls a verified student in a free course, emails a confirmation and counts the student', async () => {
    const student = await verifiedStudent(t);
    const course = await freeCourse({ title: 'Free <Intro> & Co' });
    const res = await enroll(t, student, { courseId: course.id, userId: student.userId });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'success',
      data: { enrollmentId: expect.any(Number), message: 'Enrollment successful' },
    });
    const [row] = await enrollmentRows(student.userId, course.id);
    expect(row).toMatchObject({ id: res.body.data.enrollmentId, status: 'in_progress', source: 'free' });

    // The confirmation names the course (escaped in HTML) and links to it.
    const mail = await waitFor(async () => {
      const box = await t.request({
        method: 'GET',
        url: `/api/dev/mailbox?to=${encodeURIComponent(student.email)}`,
      });
      return box.body.data.items.find(
        (m: { subject: string; text: string }) =>
          m.subject === 'You are enrolled in Free <Intro> & Co' && m.text.includes(`/courses/${course.slug}`),
      ) as { html: string } | undefined;
    });
    expect(mail.html).toContain('Free &lt;Intro&gt; &amp; Co');

    await waitFor(async () => {
      const [c] = await sql('select enrollment_count from catalog.courses where id = $1', [course.id]);
      return c!.enrollment_count === 1;
    });
  });

  it('answers 409 when the student is already enrolled, and creates nothing more', async () => {
    const student = await verifiedStudent(t);
    const course = await freeCourse();
    expect((await enroll(t, student, { courseId: course.id, userId: student.userId })).status).toBe(201);
    const again = await enroll(t, student, { courseId: course.id, userId: student.userId });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      status: 'error',
      data: null,
      error: { errorCode: 409, message: 'User already enrolled' },
    });
    expect(await enrollmentRows(student.userId, course.id)).toHaveLength(1);
  });

  it('requires a verified email address', async () => {
    const student = await registerStudent(t);
    const course = await freeCourse();
    const res = await enroll(t, student, { courseId: course.id, userId: student.userId });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe('Verify your email address first');
    expect(await enrollmentRows(student.userId, course.id)).toHaveLength(0);
  });

  it('only enrolls in published courses', async () => {
    const student = await verifiedStudent(t);
    for (const status of ['draft', 'archived'] as const) {
      const course = await freeCourse({ status });
      const res = await enroll(t, student, { courseId: course.id, userId: student.userId });
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe('Course not found');
    }
    const missing = await enroll(t, student, { courseId: 99_999_999, userId: student.userId });
    expect(missing.status).toBe(404);
  });

  it('refuses to enroll someone else, but admins enroll anyone (paid, unverified) without payment', async () => {
    const student = await verifiedStudent(t);
    const other = await registerStudent(t);
    const course = await paidCourse();
    const res = await enroll(t, student, { courseId: course.id, userId: other.userId });
    expect(res.status).toBe(403);
    expect(await enrollmentRows(other.userId, course.id)).toHaveLength(0);

    const byAdmin = await enroll(t, admin, { courseId: course.id, userId: other.userId });
    expect(byAdmin.status).toBe(201);
    const [row] = await enrollmentRows(other.userId, course.id);
    expect(row).toMatchObject({ source: 'admin', payment_id: null });
    const audit = await sql(
      "select actor_id, subject_id from identity.audit_log where action = 'enrollment.admin_enrolled' and subject_id = $1",
      [other.userId],
    );
    expect(audit).toEqual([{ actor_id: admin.userId, subject_id: other.userId }]);

    const unknownUser = await enroll(t, admin, { courseId: course.id, userId: 99_999_999 });
    expect(unknownUser.status).toBe(404);
  });

  it('needs a succeeded payment of this student for this paid course', async () => {
    const student = await verifiedStudent(t);
    const other = await verifiedStudent(t);
    const course = await paidCourse();
    const elsewhere = await paidCourse();
    const body = (paymentId?: number) => ({ courseId: course.id, userId: student.userId, paymentId });

    const none = await enroll(t, student, body());
    expect(none.status).toBe(402);
    expect(none.body.error.message).toBe('Payment required');
    const nullPayment = await enroll(t, student, { ...body(), paymentId: null });
    expect(nullPayment.status).toBe(402);

    for (const [status, message] of [
      ['pending', 'Payment has not completed yet'],
      ['failed', 'Payment failed; pay again to enroll'],
      ['refunded', 'Payment was refunded'],
    ] as const) {
      const p = await insertPayment(t, { userId: student.userId, courseId: course.id, status });
      const res = await enroll(t, student, body(p.paymentId));
      expect([res.status, res.body.error.message]).toEqual([402, message]);
    }

    const otherCourse = await insertPayment(t, { userId: student.userId, courseId: elsewhere.id });
    const wrongCourse = await enroll(t, student, body(otherCourse.paymentId));
    expect(wrongCourse.status).toBe(400);
    expect(wrongCourse.body.error.details).toEqual([
      { field: 'body.paymentId', message: 'This payment is for another course' },
    ]);

    // Another user's payment looks exactly like one that does not exist.
    const theirs = await insertPayment(t, { userId: other.userId, courseId: course.id });
    const foreign = await enroll(t, student, body(theirs.paymentId));
    const unknown = await enroll(t, student, body(99_999_999));
    expect([foreign.status, foreign.body.error.message]).toEqual([404, 'Payment not found']);
    expect([unknown.status, unknown.body.error.message]).toEqual([404, 'Payment not found']);
    expect(await enrollmentRows(student.userId, course.id)).toHaveLength(0);

    const paid = await insertPayment(t, { userId: student.userId, courseId: course.id });
    const ok = await enroll(t, student, body(paid.paymentId));
    expect(ok.status).toBe(201);
    const [row] = await enrollmentRows(student.userId, course.id);
    expect(row).toMatchObject({
      id: ok.body.data.enrollmentId,
      source: 'payment',
      payment_id: paid.paymentId,
      order_id: paid.orderId,
    });
    // Sending the same payment again is the same enrollment, not a conflict.
    const replay = await enroll(t, student, body(paid.paymentId));
    expect(replay.status).toBe(201);
    expect(replay.body.data.enrollmentId).toBe(ok.body.data.enrollmentId);
    // Without it, the student is simply enrolled already.
    expect((await enroll(t, student, body())).status).toBe(409);
  });

  it('enforces prerequisites: each missing course is listed until it is completed', async () => {
    const student = await verifiedStudent(t);
    const basics = await freeCourse({ title: 'Basics' });
    const more = await freeCourse({ title: 'More basics' });
    const advanced = await freeCourse({ title: 'Advanced' });
    await sql(
      'insert into catalog.course_prerequisites (course_id, required_course_id) values ($1, $2), ($1, $3)',
      [advanced.id, basics.id, more.id],
    );
    const attempt = () => enroll(t, student, { courseId: advanced.id, userId: student.userId });

    const first = await attempt();
    expect(first.status).toBe(403);
    expect(first.body.error).toEqual({
      errorCode: 403,
      message: 'Complete the prerequisite courses first',
      details: [
        { field: 'body.courseId', message: `Complete course ${basics.id} ("Basics") first` },
        { field: 'body.courseId', message: `Complete course ${more.id} ("More basics") first` },
      ],
    });
    const a = await enroll(t, student, { courseId: basics.id, userId: student.userId });
    const b = await enroll(t, student, { courseId: more.id, userId: student.userId });
    // Enrolled is not enough: the prerequisite must be completed.
    expect((await attempt()).body.error.details).toHaveLength(2);
    await updateEnrollment(t, a.body.data.enrollmentId, { status: 'completed' });
    expect((await attempt()).body.error.details).toEqual([
      { field: 'body.courseId', message: `Complete course ${more.id} ("More basics") first` },
    ]);
    await updateEnrollment(t, b.body.data.enrollmentId, { status: 'completed' });
    expect((await attempt()).status).toBe(201);
  });

  it('binds only published prerequisites: a draft or archived one neither blocks nor is named', async () => {
    const student = await verifiedStudent(t);
    const draft = await freeCourse({ title: 'Secret draft', status: 'draft' });
    const archived = await freeCourse({ title: 'Retired', status: 'archived' });
    const basics = await freeCourse({ title: 'Basics, still sold' });
    const advanced = await freeCourse({ title: 'Advanced, again' });
    await sql(
      'insert into catalog.course_prerequisites (course_id, required_course_id) values ($1, $2), ($1, $3), ($1, $4)',
      [advanced.id, draft.id, archived.id, basics.id],
    );
    const attempt = () => enroll(t, student, { courseId: advanced.id, userId: student.userId });
    const refused = await attempt();
    expect(refused.status).toBe(403);
    expect(refused.body.error.details).toEqual([
      { field: 'body.courseId', message: `Complete course ${basics.id} ("Basics, still sold") first` },
    ]);
    expect(JSON.stringify(refused.body)).not.toContain('Secret draft');
    const b = await enroll(t, student, { courseId: basics.id, userId: student.userId });
    await updateEnrollment(t, b.body.data.enrollmentId, { status: 'completed' });
    expect((await attempt()).status).toBe(201);
  });

  it('refuses a checkout for a course the student is enrolled in (409) or lacks prerequisites for (403), recording no order', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse();
    const orders = () => sql('select id from commerce.orders where user_id = $1', [student.userId]);
    expect((await enroll(t, admin, { courseId: course.id, userId: student.userId })).status).toBe(201);
    const again = await payByCard(t, student, course.id);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('You are already enrolled in this course');
    expect(await orders()).toEqual([]);

    const basics = await freeCourse({ title: 'Prerequisite for a paid course' });
    const gated = await paidCourse();
    await sql('insert into catalog.course_prerequisites (course_id, required_course_id) values ($1, $2)', [
      gated.id,
      basics.id,
    ]);
    const gatedPay = await payByCard(t, student, gated.id);
    expect(gatedPay.status).toBe(403);
    expect(gatedPay.body.error.details).toEqual([
      {
        field: 'body.courseId',
        message: `Complete course ${basics.id} ("Prerequisite for a paid course") first`,
      },
    ]);
    expect(await orders()).toEqual([]);
    const b = await enroll(t, student, { courseId: basics.id, userId: student.userId });
    await updateEnrollment(t, b.body.data.enrollmentId, { status: 'completed' });
    expect((await payByCard(t, student, gated.id)).status).toBe(201);
  });

  it('replays with the same Idempotency-Key and refuses the key for another body', async () => {
    const student = await verifiedStudent(t);
    const course = await freeCourse();
    const other = await freeCourse();
    const key = { 'idempotency-key': `enroll-${student.userId}` };
    const first = await enroll(t, student, { courseId: course.id, userId: student.userId }, key);
    const replay = await enroll(t, student, { courseId: course.id, userId: student.userId }, key);
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.data).toEqual(first.body.data);
    const misuse = await enroll(t, student, { courseId: other.id, userId: student.userId }, key);
    expect(misuse.status).toBe(422);
    expect(await enrollmentRows(student.userId, other.id)).toHaveLength(0);
  });

  it('rejects bad input with per-field details and changes nothing', async () => {
    const student = await verifiedStudent(t);
    const course = await freeCourse();
    const cases: Array<[unknown, string]> = [
      [{}, 'body.courseId'],
      [{ courseId: course.id }, 'body.userId'],
      [{ courseId: String(course.id), userId: student.userId }, 'body.courseId'],
      [{ courseId: 0, userId: student.userId }, 'body.courseId'],
      [{ courseId: 1.5, userId: student.userId }, 'body.courseId'],
      [{ courseId: 2 ** 31, userId: student.userId }, 'body.courseId'],
      [{ courseId: course.id, userId: -1 }, 'body.userId'],
      [{ courseId: course.id, userId: student.userId, paymentId: 'tx_1' }, 'body.paymentId'],
      [{ courseId: course.id, userId: student.userId, paymentId: 0 }, 'body.paymentId'],
      [{ courseId: course.id, userId: student.userId, extra: true }, 'body'],
    ];
    for (const [payload, field] of cases) {
      const res = await t.request({
        method: 'POST',
        url: '/api/enrollments/enroll',
        payload: payload as object,
        token: student.token,
      });
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect(res.body.error.message).toBe('Invalid input data');
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const badKey = await enroll(
      t,
      student,
      { courseId: course.id, userId: student.userId },
      { 'idempotency-key': 'bad key with spaces' },
    );
    expect(badKey.status).toBe(400);
    const anonymous = await t.request({
      method: 'POST',
      url: '/api/enrollments/enroll',
      payload: { courseId: course.id, userId: student.userId },
    });
    expect(anonymous.status).toBe(401);
    const anonymousBadBody = await t.request({
      method: 'POST',
      url: '/api/enrollments/enroll',
      payload: { courseId: 'nope' },
    });
    expect(anonymousBadBody.status).toBe(401);
    expect(await enrollmentRows(student.userId, course.id)).toHaveLength(0);
  });
});

describe('reading enrollments', () => {
  let student: Caller;
  let stranger: Caller;
  let course: Awaited<ReturnType<typeof freeCourse>>;
  let enrollmentId: number;

  beforeAll(async () => {
    [student, stranger] = await Promise.all([verifiedStudent(t), verifiedStudent(t)]);
    course = await freeCourse({ title: 'Readable course' });
    enrollmentId = (await enroll(t, student, { courseId: course.id, userId: student.userId })).body.data
      .enrollmentId;
  });

  it('GET /api/enrollments/{id}: the student, the course staff and admins; 404 for everyone else', async () => {
    const get = (caller: Caller, id: number | string = enrollmentId) =>
      t.request({ method: 'GET', url: `/api/enrollments/${id}`, token: caller.token });
    for (const caller of [student, owner, co, admin]) {
      const res = await get(caller);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        enrollmentId,
        userId: student.userId,
        courseId: course.id,
        courseTitle: 'Readable course',
        enrollmentDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        status: 'in_progress',
        source: 'free',
        paymentId: null,
        orderId: null,
        completedAt: null,
        revokedAt: null,
        revokeReason: null,
      });
    }
    for (const caller of [stranger, otherInstructor]) {
      const res = await get(caller);
      expect([res.status, res.body.error.message]).toEqual([404, 'Enrollment not found']);
    }
    expect((await get(student, 99_999_999)).status).toBe(404);
    expect((await get(student, 'abc')).status).toBe(400);
    expect((await get(student, 0)).status).toBe(400);
    expect((await t.request({ method: 'GET', url: `/api/enrollments/${enrollmentId}` })).status).toBe(401);
  });

  it('GET /api/enrollments lists mine, newest first, by status, page by page', async () => {
    const learner = await verifiedStudent(t);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await freeCourse({ title: `Mine ${i}` });
      ids.push((await enroll(t, learner, { courseId: c.id, userId: learner.userId })).body.data.enrollmentId);
    }
    await updateEnrollment(t, ids[0]!, { status: 'completed' });
    const list = (query: string, caller: Caller = learner) =>
      t.request({ method: 'GET', url: `/api/enrollments${query}`, token: caller.token });

    const first = await list('?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.data.items.map((e: { enrollmentId: number }) => e.enrollmentId)).toEqual([
      ids[2],
      ids[1],
    ]);
    expect(first.body.data.items[0]).toMatchObject({ courseTitle: 'Mine 2', userId: learner.userId });
    expect(first.body.data.pageInfo.hasMore).toBe(true);
    const second = await list(`?limit=2&cursor=${first.body.data.pageInfo.nextCursor}`);
    expect(second.body.data.items.map((e: { enrollmentId: number }) => e.enrollmentId)).toEqual([ids[0]]);
    expect(second.body.data.pageInfo).toEqual({ nextCursor: null, hasMore: false });

    const completed = await list('?status=completed');
    expect(completed.body.data.items.map((e: { enrollmentId: number }) => e.enrollmentId)).toEqual([ids[0]]);
    // Nobody else's enrollments leak into the list.
    expect((await list('', stranger)).body.data.items).toEqual([]);

    for (const bad of ['?limit=0', '?limit=101', '?status=paid', '?cursor=%%%', '?cursor=MA', '?foo=1']) {
      const res = await list(bad);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.details.length).toBeGreaterThan(0);
    }
    expect((await t.request({ method: 'GET', url: '/api/enrollments' })).status).toBe(401);
  });

  it('GET /api/courses/{id}/students: course staff and admins with names and emails; others refused', async () => {
    const second = await verifiedStudent(t, { name: 'Second Student' });
    await enroll(t, second, { courseId: course.id, userId: second.userId });
    const students = (caller: Caller, query = '', id: number | string = course.id) =>
      t.request({ method: 'GET', url: `/api/courses/${id}/students${query}`, token: caller.token });

    for (const caller of [owner, co, admin]) {
      const res = await students(caller);
      expect(res.status).toBe(200);
      expect(res.body.data.courseId).toBe(course.id);
      expect(res.body.data.items).toEqual([
        expect.objectContaining({ userId: second.userId, name: 'Second Student', email: second.email }),
        expect.objectContaining({ userId: student.userId, email: student.email, status: 'in_progress' }),
      ]);
    }
    const page = await students(owner, '?limit=1');
    expect(page.body.data.items).toHaveLength(1);
    const rest = await students(owner, `?limit=1&cursor=${page.body.data.pageInfo.nextCursor}`);
    expect(rest.body.data.items[0].userId).toBe(student.userId);
    expect(rest.body.data.pageInfo.hasMore).toBe(false);

    for (const caller of [student, stranger, otherInstructor]) {
      expect((await students(caller)).status).toBe(403);
    }
    const draft = await freeCourse({ status: 'draft' });
    expect((await students(otherInstructor, '', draft.id)).status).toBe(404);
    expect((await students(owner, '', draft.id)).status).toBe(200);
    expect((await students(admin, '', 99_999_999)).status).toBe(404);
    for (const [query, id] of [
      ['', 'abc'],
      ['?limit=500', course.id],
      ['?status=gone', course.id],
      ['?cursor=zz', course.id],
    ] as const) {
      expect((await students(owner, query, id)).status, `${id}${query}`).toBe(400);
    }
    expect((await t.request({ method: 'GET', url: `/api/courses/${course.id}/students` })).status).toBe(401);
  });
});
