import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courses, lessons, sections, tags as tagsTable } from '../../src/modules/catalog/catalog.tables.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>');

function multipart(name: string, data: Buffer) {
  const boundary = `----lectern${randomBytes(8).toString('hex')}`;
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n`,
    ),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const unique = () => randomBytes(4).toString('hex');
const c0 = unique();

describe('catalog: course authoring', () => {
  let t: TestApp;
  let owner: { userId: number; token: string };
  let other: { userId: number; token: string };
  let coInstructor: { userId: number; token: string };
  let admin: { userId: number; token: string };
  let student: { userId: number; token: string };

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', METRICS_TOKEN });
    owner = await createUserWithRole(t, 'instructor');
    other = await createUserWithRole(t, 'instructor');
    coInstructor = await createUserWithRole(t, 'instructor');
    admin = await createUserWithRole(t, 'admin');
    student = await registerStudent(t);
  });
  afterAll(() => t.close());

  const create = (token: string | undefined, payload: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/courses', token, payload });
  const get = (id: number | string, token?: string) =>
    t.request({ method: 'GET', url: `/api/courses/${id}`, token });
  const patch = (id: number | string, token: string, payload: Record<string, unknown>) =>
    t.request({ method: 'PATCH', url: `/api/courses/${id}`, token, payload });
  const action = (id: number, what: string, token: string) =>
    t.request({ method: 'POST', url: `/api/courses/${id}/${what}`, token });
  const courseCount = async () => (await t.app.platform.db.select({ id: courses.id }).from(courses)).length;

  async function newCourse(token = owner.token, extra: Record<string, unknown> = {}) {
    const res = await create(token, {
      title: `Course ${unique()}`,
      description: 'Learn things',
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body.data as { courseId: number; slug: string };
  }

  async function addLesson(courseId: number) {
    const db = t.app.platform.db;
    const [section] = await db.insert(sections).values({ courseId, title: 'Intro', position: 0 }).returning();
    await db.insert(lessons).values({
      courseId,
      sectionId: section!.id,
      title: 'Welcome',
      position: 0,
      durationMinutes: 7,
      isPreview: true,
      body: 'secret body',
    });
  }

  async function publishedCourse(token = owner.token) {
    const c = await newCourse(token);
    await addLesson(c.courseId);
    expect((await action(c.courseId, 'publish', token)).status).toBe(200);
    return c;
  }

  describe('POST /api/courses', () => {
    it('creates a draft for an instructor, with normalised tags, price in major units and the owner', async () => {
      const res = await create(owner.token, {
        title: 'Intro to Python',
        subtitle: 'From zero',
        description: '# Hello',
        tags: ['  Web   Dev ', 'web dev', 'PYTHON'],
        difficulty: 'Intermediate',
        language: 'pt-br',
        price: 49.99,
        currency: 'USD',
      });
      expect(res.status).toBe(201);
      const c = res.body.data;
      expect(c).toMatchObject({
        slug: 'intro-to-python',
        title: 'Intro to Python',
        status: 'draft',
        tags: ['web dev', 'python'],
        difficulty: 'Intermediate',
        language: 'pt-BR',
        price: 49.99,
        currency: 'USD',
        instructor: { userId: owner.userId, name: 'Test instructor' },
        coInstructors: [],
        prerequisites: [],
        outline: [],
        publishedAt: null,
        category: null,
      });
      const [row] = await t.app.platform.db.select().from(courses).where(eq(courses.id, c.courseId));
      expect(row!.priceMinor).toBe(4999);
      const [tag] = await t.app.platform.db.select().from(tagsTable).where(eq(tagsTable.name, 'web dev'));
      expect(tag!.courseCount).toBeGreaterThanOrEqual(1);
    });

    it('defaults difficulty, language, price and currency; admins may create', async () => {
      const res = await create(admin.token, { title: 'Admin course' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({
        difficulty: 'Beginner',
        language: 'en',
        price: 0,
        currency: 'NGN',
        description: '',
      });
    });

    it('refuses students (403) and anonymous callers (401)', async () => {
      const before = await courseCount();
      expect((await create(student.token, { title: 'Nope course' })).status).toBe(403);
      expect((await create(undefined, { title: 'Nope course' })).status).toBe(401);
      expect(await courseCount()).toBe(before);
    });

    it.each([
      ['price', { price: 10.999 }],
      ['price', { price: -1 }],
      ['currency', { currency: 'usd' }],
      ['language', { language: 'not a language!' }],
      ['tags', { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }],
      ['tags.0', { tags: ['   '] }],
      ['categoryId', { categoryId: 999999 }],
      ['title', { title: 'ab' }],
      ['slug', { slug: 'Bad Slug' }],
      ['difficulty', { difficulty: 'Expert' }],
    ])('answers 400 naming body.%s and creates nothing', async (field, extra) => {
      const before = await courseCount();
      const res = await create(owner.token, { title: 'Valid title', ...extra });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(`body.${field}`);
      expect(await courseCount()).toBe(before);
    });

    it('derives unique slugs with a numeric suffix and refuses a taken explicit slug (409)', async () => {
      const title = `Rust ${unique()} Basics`;
      const a = await newCourse(owner.token, { title });
      const b = await newCourse(owner.token, { title });
      expect(b.slug).toBe(`${a.slug}-2`);
      const before = await courseCount();
      const res = await create(owner.token, { title: 'Other', slug: a.slug });
      expect(res.status).toBe(409);
      expect(await courseCount()).toBe(before);
      const explicit = await newCourse(owner.token, { slug: `my-slug-${unique()}` });
      expect((await get(explicit.slug, owner.token)).body.data.courseId).toBe(explicit.courseId);
    });
  });

  describe('visibility and editing', () => {
    it('hides drafts from anonymous callers, students and other instructors, not from editors', async () => {
      const c = await newCourse();
      expect((await get(c.courseId)).status).toBe(404);
      expect((await get(c.slug)).status).toBe(404);
      expect((await get(c.courseId, student.token)).status).toBe(404);
      expect((await get(c.courseId, other.token)).status).toBe(404);
      expect((await get(c.courseId, owner.token)).status).toBe(200);
      expect((await get(c.courseId, admin.token)).status).toBe(200);
      const add = await t.request({
        method: 'POST',
        url: `/api/courses/${c.courseId}/instructors`,
        token: owner.token,
        payload: { userId: coInstructor.userId },
      });
      expect(add.status).toBe(201);
      expect(add.body.data.coInstructors).toEqual([{ userId: coInstructor.userId, name: 'Test instructor' }]);
      expect((await get(c.courseId, coInstructor.token)).status).toBe(200);
    });

    it('PATCH: 404 for another instructor on a draft, 403 on a published course; editors succeed', async () => {
      const draft = await newCourse();
      expect((await patch(draft.courseId, other.token, { title: 'Hijack' })).status).toBe(404);
      const pub = await publishedCourse();
      expect((await patch(pub.courseId, other.token, { title: 'Hijack' })).status).toBe(403);
      expect((await patch(pub.courseId, student.token, { title: 'Hijack' })).status).toBe(403);
      const res = await patch(pub.courseId, admin.token, {
        subtitle: 'By admin',
        price: 5,
        tags: ['New Tag'],
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ subtitle: 'By admin', price: 5, tags: ['new tag'] });
    });

    it('PATCH refuses an empty body, bad fields and a taken slug, changing nothing', async () => {
      const a = await newCourse();
      const b = await newCourse();
      expect((await patch(a.courseId, owner.token, {})).status).toBe(400);
      const bad = await patch(a.courseId, owner.token, { title: 'New title', price: 1.234 });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].field).toBe('body.price');
      expect((await patch(a.courseId, owner.token, { slug: b.slug })).status).toBe(409);
      const still = await get(a.courseId, owner.token);
      expect(still.body.data.slug).toBe(a.slug);
      expect(still.body.data.title).not.toBe('New title');
    });

    it('PATCH needs a token', async () => {
      const c = await newCourse();
      const res = await t.request({
        method: 'PATCH',
        url: `/api/courses/${c.courseId}`,
        payload: { title: 'x' },
      });
      expect(res.status).toBe(401);
    });
  });

  describe('publish and archive', () => {
    it('lists every missing requirement, then publishes and shows the outline publicly', async () => {
      const c = await newCourse(owner.token, { description: '' });
      const refused = await action(c.courseId, 'publish', owner.token);
      expect(refused.status).toBe(400);
      expect(refused.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
        'description',
        'lessons',
      ]);
      await patch(c.courseId, owner.token, { description: 'Now described' });
      await addLesson(c.courseId);
      const ok = await action(c.courseId, 'publish', owner.token);
      expect(ok.status).toBe(200);
      expect(ok.body.data.status).toBe('published');
      expect(ok.body.data.publishedAt).not.toBeNull();
      const pub = await get(c.courseId);
      expect(pub.status).toBe(200);
      expect(pub.body.data.outline[0].lessons[0]).toEqual({
        lessonId: expect.any(Number),
        title: 'Welcome',
        type: 'text',
        durationMinutes: 7,
        isPreview: true,
        releaseAfterDays: null,
        releaseAt: null,
      });
      expect(JSON.stringify(pub.body.data)).not.toContain('secret body');
      expect((await action(c.courseId, 'publish', owner.token)).status).toBe(409);
    });

    it('co-instructors edit but cannot publish, archive or delete', async () => {
      const c = await newCourse();
      await addLesson(c.courseId);
      await t.request({
        method: 'POST',
        url: `/api/courses/${c.courseId}/instructors`,
        token: owner.token,
        payload: { userId: coInstructor.userId },
      });
      expect((await patch(c.courseId, coInstructor.token, { title: 'Co edited' })).status).toBe(200);
      expect((await action(c.courseId, 'publish', coInstructor.token)).status).toBe(403);
      expect((await action(c.courseId, 'archive', coInstructor.token)).status).toBe(403);
      const del = await t.request({
        method: 'DELETE',
        url: `/api/courses/${c.courseId}`,
        token: coInstructor.token,
      });
      expect(del.status).toBe(403);
      expect((await get(c.courseId, owner.token)).body.data.status).toBe('draft');
    });

    it('archive hides the course from the public; a second archive is 409; republish is allowed', async () => {
      const c = await publishedCourse();
      expect((await action(c.courseId, 'archive', other.token)).status).toBe(403);
      const res = await action(c.courseId, 'archive', owner.token);
      expect(res.status).toBe(200);
      expect(res.body.data.status).toBe('archived');
      expect((await get(c.courseId)).status).toBe(404);
      expect((await get(c.courseId, student.token)).status).toBe(404);
      expect((await action(c.courseId, 'archive', owner.token)).status).toBe(409);
      expect((await action(c.courseId, 'archive', other.token)).status).toBe(404);
      expect((await action(c.courseId, 'publish', admin.token)).status).toBe(200);
      expect((await get(c.courseId)).status).toBe(200);
    });
  });

  describe('DELETE /api/courses/{id}', () => {
    it('deletes a never-published draft and archives a published course', async () => {
      const draft = await newCourse();
      expect(
        (await t.request({ method: 'DELETE', url: `/api/courses/${draft.courseId}`, token: other.token }))
          .status,
      ).toBe(404);
      const gone = await t.request({
        method: 'DELETE',
        url: `/api/courses/${draft.courseId}`,
        token: owner.token,
      });
      expect(gone.status).toBe(200);
      expect(gone.body.data.status).toBe('deleted');
      expect((await get(draft.courseId, owner.token)).status).toBe(404);

      const pub = await publishedCourse();
      const archived = await t.request({
        method: 'DELETE',
        url: `/api/courses/${pub.courseId}`,
        token: owner.token,
      });
      expect(archived.status).toBe(200);
      expect(archived.body.data).toEqual({
        message: 'Course archived (it has been published)',
        status: 'archived',
      });
      expect((await get(pub.courseId, owner.token)).body.data.status).toBe('archived');
    });
  });

  describe('module API', () => {
    it('getCourse answers for other modules; an enrollment check makes DELETE archive a draft', async () => {
      const c = await newCourse(owner.token, { price: 12.5, currency: 'USD', tags: [`solo-${c0}`] });
      expect(await t.app.modules.catalog.getCourse(c.courseId)).toEqual({
        courseId: c.courseId,
        title: expect.any(String),
        slug: expect.any(String),
        status: 'draft',
        ownerId: owner.userId,
        priceMinor: 1250,
        currency: 'USD',
        instructorIds: [owner.userId],
        prerequisiteIds: [],
      });
      expect(await t.app.modules.catalog.getCourse(99999999)).toBeNull();
      t.app.modules.catalog.setEnrollmentCheck(async (id) => id === c.courseId);
      try {
        const res = await t.request({
          method: 'DELETE',
          url: `/api/courses/${c.courseId}`,
          token: owner.token,
        });
        expect(res.body.data).toEqual({
          message: 'Course archived (it has enrollments)',
          status: 'archived',
        });
      } finally {
        t.app.modules.catalog.setEnrollmentCheck(async () => false);
      }
      const d = await newCourse(owner.token, { tags: [`gone-${c0}`] });
      const countOf = async (name: string) =>
        (await t.app.platform.db.select().from(tagsTable).where(eq(tagsTable.name, name)))[0]?.courseCount;
      expect(await countOf(`gone-${c0}`)).toBe(1);
      await t.request({ method: 'DELETE', url: `/api/courses/${d.courseId}`, token: admin.token });
      expect(await countOf(`gone-${c0}`)).toBe(0);
    });
  });

  describe('co-instructors', () => {
    it('validates the user, refuses duplicates and never removes the owner', async () => {
      const c = await newCourse();
      const url = `/api/courses/${c.courseId}/instructors`;
      const asStudent = await t.request({
        method: 'POST',
        url,
        token: owner.token,
        payload: { userId: student.userId },
      });
      expect(asStudent.status).toBe(400);
      expect(asStudent.body.error.details[0].field).toBe('body.userId');
      expect(
        (await t.request({ method: 'POST', url, token: owner.token, payload: { userId: 99999999 } })).status,
      ).toBe(400);
      expect(
        (await t.request({ method: 'POST', url, token: owner.token, payload: { userId: owner.userId } }))
          .status,
      ).toBe(409);
      expect(
        (await t.request({ method: 'POST', url, token: other.token, payload: { userId: other.userId } }))
          .status,
      ).toBe(404);
      expect(
        (await t.request({ method: 'POST', url, token: admin.token, payload: { userId: other.userId } }))
          .status,
      ).toBe(201);
      expect(
        (await t.request({ method: 'DELETE', url: `${url}/${owner.userId}`, token: owner.token })).status,
      ).toBe(409);
      expect(
        (await t.request({ method: 'DELETE', url: `${url}/${other.userId}`, token: other.token })).status,
      ).toBe(403);
      const removed = await t.request({
        method: 'DELETE',
        url: `${url}/${other.userId}`,
        token: owner.token,
      });
      expect(removed.status).toBe(200);
      expect(removed.body.data.coInstructors).toEqual([]);
      expect(
        (await t.request({ method: 'DELETE', url: `${url}/${other.userId}`, token: owner.token })).status,
      ).toBe(404);
    });
  });

  describe('prerequisites', () => {
    it('replaces the set, refuses itself, unknown or hidden courses, and cycles', async () => {
      const a = await publishedCourse();
      const b = await publishedCourse();
      const hidden = await newCourse(other.token);
      const put = (id: number, courseIds: number[], token = owner.token) =>
        t.request({ method: 'PUT', url: `/api/courses/${id}/prerequisites`, token, payload: { courseIds } });

      const ok = await put(a.courseId, [b.courseId]);
      expect(ok.status).toBe(200);
      expect(ok.body.data.prerequisites).toEqual([
        { courseId: b.courseId, title: expect.any(String), slug: b.slug },
      ]);
      expect((await get(a.courseId)).body.data.prerequisites).toHaveLength(1);

      const self = await put(a.courseId, [a.courseId]);
      expect(self.status).toBe(400);
      expect(self.body.error.details[0].field).toBe('body.courseIds.0');
      const unknown = await put(a.courseId, [b.courseId, 99999999, hidden.courseId]);
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details.map((d: { field: string }) => d.field)).toEqual([
        'body.courseIds.1',
        'body.courseIds.2',
      ]);
      expect((await put(b.courseId, [a.courseId])).status).toBe(409);
      expect((await put(b.courseId, [a.courseId], other.token)).status).toBe(403);
      expect((await get(a.courseId)).body.data.prerequisites).toHaveLength(1);

      const cleared = await put(a.courseId, []);
      expect(cleared.body.data.prerequisites).toEqual([]);
    });
  });

  describe('cover image', () => {
    it('accepts an image by its bytes, refuses others, and redirects publicly to a signed link', async () => {
      const c = await publishedCourse();
      const url = `/api/courses/${c.courseId}/cover`;
      const svg = await t.request({ method: 'PUT', url, token: owner.token, ...multipart('cover', SVG) });
      expect(svg.status).toBe(415);
      expect(
        (await t.request({ method: 'PUT', url, token: other.token, ...multipart('cover', PNG) })).status,
      ).toBe(403);
      expect((await t.request({ method: 'PUT', url, ...multipart('cover', PNG) })).status).toBe(401);
      expect((await t.request({ method: 'GET', url })).status).toBe(404);
      const huge = Buffer.concat([PNG, Buffer.alloc(5 * 1024 * 1024)]);
      expect(
        (await t.request({ method: 'PUT', url, token: owner.token, ...multipart('cover', huge) })).status,
      ).toBe(413);

      const res = await t.request({ method: 'PUT', url, token: owner.token, ...multipart('cover', PNG) });
      expect(res.status).toBe(200);
      expect(res.body.data.coverImageUrl).toMatch(new RegExp(`/api/courses/${c.courseId}/cover$`));
      const redirect = await t.request({ method: 'GET', url });
      expect(redirect.status).toBe(302);
      expect(String(redirect.headers.location)).toBeTruthy();

      await action(c.courseId, 'archive', owner.token);
      expect((await t.request({ method: 'GET', url })).status).toBe(404);
      expect((await t.request({ method: 'GET', url, token: owner.token })).status).toBe(302);
    });
  });

  describe('caching', () => {
    it('never serves a stale detail after an edit, and counts cache hits', async () => {
      const c = await publishedCourse();
      expect((await get(c.courseId)).body.data.title).not.toBe('Renamed title');
      await get(c.courseId);
      expect((await patch(c.courseId, owner.token, { title: 'Renamed title' })).status).toBe(200);
      expect((await get(c.courseId)).body.data.title).toBe('Renamed title');
      expect((await get(c.slug, student.token)).body.data.title).toBe('Renamed title');
      const metrics = await t.request({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(String(metrics.body)).toMatch(
        /lectern_cache_requests_total\{[^}]*namespace="course"[^}]*result="hit"[^}]*\} [1-9]/,
      );
    });
  });
});
