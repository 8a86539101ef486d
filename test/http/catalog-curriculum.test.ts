import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LESSON_ADDED } from '../../src/modules/catalog/index.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { curriculumHelpers } from '../factories/curriculum.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string };

let t: TestApp;
let h: ReturnType<typeof curriculumHelpers>;
let owner: Caller;
let coInstructor: Caller;
let otherInstructor: Caller;
let admin: Caller;
let student: Caller;
const lessonEvents: any[] = [];

beforeAll(async () => {
  t = await createTestApp(
    { AUTH_RATE_LIMIT_MAX: '1000' },
    {
      setup: (app) =>
        app.platform.events.subscribe({
          event: LESSON_ADDED,
          consumer: 'test.onLessonAdded',
          handle: async (event) => void lessonEvents.push(event),
        }),
    },
  );
  [owner, coInstructor, otherInstructor, admin] = await Promise.all([
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'admin'),
  ]);
  student = await registerStudent(t);
  h = curriculumHelpers(t, { owner, coInstructor });
});
afterAll(() => t.close());

describe('sections', () => {
  it('appends, inserts at a position, renames and deletes with the gap closed', async () => {
    const course = await h.newCourse('draft');
    const a = await h.addSection(course.id, { title: 'A' });
    expect(a.status).toBe(201);
    expect(a.body.data).toEqual({
      sectionId: expect.any(Number),
      courseId: course.id,
      title: 'A',
      position: 0,
    });
    await h.addSection(course.id, { title: 'C' });
    const b = await h.addSection(course.id, { title: 'B', position: 1 });
    expect(b.body.data.position).toBe(1);
    const first = await h.addSection(course.id, { title: 'First', position: 0 });
    const last = await h.addSection(course.id, { title: 'Last', position: 99 });
    expect(last.body.data.position).toBe(4);
    expect((await h.curriculumOf(course.id)).sections.map((s) => [s.title, s.position])).toEqual([
      ['First', 0],
      ['A', 1],
      ['B', 2],
      ['C', 3],
      ['Last', 4],
    ]);

    const renamed = await t.request({
      method: 'PATCH',
      url: `/api/sections/${b.body.data.sectionId}`,
      payload: { title: 'Bee' },
      token: coInstructor.token,
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ title: 'Bee', position: 2 });

    const del = await t.request({
      method: 'DELETE',
      url: `/api/sections/${first.body.data.sectionId}`,
      token: admin.token,
    });
    expect(del.status).toBe(200);
    expect((await h.curriculumOf(course.id)).sections.map((s) => [s.title, s.position])).toEqual([
      ['A', 0],
      ['Bee', 1],
      ['C', 2],
      ['Last', 3],
    ]);
  });

  it('accepts the course slug in the path; unknown course or section is 404', async () => {
    const course = await h.newCourse('draft');
    expect(
      (
        await t.request({
          method: 'POST',
          url: `/api/courses/${course.slug}/sections`,
          payload: { title: 'X' },
          token: owner.token,
        })
      ).status,
    ).toBe(201);
    expect((await h.addSection(999_999, { title: 'X' })).status).toBe(404);
    expect(
      (
        await t.request({
          method: 'PATCH',
          url: '/api/sections/999999',
          payload: { title: 'X' },
          token: owner.token,
        })
      ).status,
    ).toBe(404);
    expect((await h.addLesson(999_999, { title: 'X' })).status).toBe(404);
  });

  it('deleting a section deletes its lessons and recomputes the duration', async () => {
    const course = await h.newCourse('draft');
    const s1 = await h.sectionWithLessons(course.id, ['a', 'b']);
    await h.sectionWithLessons(course.id, ['c']);
    expect(await h.durationOf(course.id)).toBe(30);
    const del = await t.request({
      method: 'DELETE',
      url: `/api/sections/${s1.sectionId}`,
      token: owner.token,
    });
    expect(del.status).toBe(200);
    const after = await h.curriculumOf(course.id);
    expect(after.sections).toHaveLength(1);
    expect(after.sections[0]!.position).toBe(0);
    expect(after.lessons.map((l) => l.title)).toEqual(['c']);
    expect(await h.durationOf(course.id)).toBe(10);
  });
});

describe('authorization', () => {
  it('refuses anonymous writes (401), non-editors on visible courses (403) and hides hidden ones (404)', async () => {
    const published = await h.newCourse('published');
    const draft = await h.newCourse('draft');
    const archived = await h.newCourse('archived');
    const pub = await h.sectionWithLessons(published.id, ['p1', 'p2']);
    const drf = await h.sectionWithLessons(draft.id, ['d1', 'd2']);
    const arc = await h.sectionWithLessons(archived.id, ['a1']);
    const before = await Promise.all([published, draft, archived].map((c) => h.curriculumOf(c.id)));

    const writes = (courseId: number, s: { sectionId: number; lessonIds: number[] }) => [
      { method: 'POST' as const, url: `/api/courses/${courseId}/sections`, payload: { title: 'X' } },
      { method: 'PATCH' as const, url: `/api/sections/${s.sectionId}`, payload: { title: 'X' } },
      { method: 'DELETE' as const, url: `/api/sections/${s.sectionId}` },
      { method: 'POST' as const, url: `/api/sections/${s.sectionId}/lessons`, payload: { title: 'X' } },
      { method: 'PATCH' as const, url: `/api/lessons/${s.lessonIds[0]}`, payload: { title: 'X' } },
      { method: 'DELETE' as const, url: `/api/lessons/${s.lessonIds[0]}` },
      {
        method: 'POST' as const,
        url: `/api/courses/${courseId}/curriculum/reorder`,
        payload: { sections: [{ sectionId: s.sectionId, lessonIds: [...s.lessonIds].reverse() }] },
      },
    ];
    const cases: Array<[number, { sectionId: number; lessonIds: number[] }, number]> = [
      [published.id, pub, 403],
      [draft.id, drf, 404],
      [archived.id, arc, 404],
    ];
    for (const [courseId, s, hiddenStatus] of cases) {
      for (const req of writes(courseId, s)) {
        expect((await t.request(req)).status, `anonymous ${req.method} ${req.url}`).toBe(401);
        for (const caller of [student, otherInstructor]) {
          const res = await t.request({ ...req, token: caller.token });
          expect(res.status, `${req.method} ${req.url}`).toBe(hiddenStatus);
          expect(res.body.status).toBe('error');
        }
      }
    }
    const after = await Promise.all([published, draft, archived].map((c) => h.curriculumOf(c.id)));
    expect(after).toEqual(before);
  });

  it('lets the owner, a co-instructor and an admin edit', async () => {
    const course = await h.newCourse('published');
    for (const caller of [owner, coInstructor, admin]) {
      const s = await h.addSection(course.id, { title: 'By editor' }, caller.token);
      expect(s.status).toBe(201);
      const l = await h.addLesson(s.body.data.sectionId, { title: 'L' }, caller.token);
      expect(l.status).toBe(201);
    }
    expect((await h.curriculumOf(course.id)).lessons).toHaveLength(3);
  });
});

describe('lesson reading', () => {
  it('shows preview bodies to everyone and other bodies only to editors', async () => {
    const course = await h.newCourse('published');
    const section = (await h.addSection(course.id, { title: 'S' })).body.data.sectionId;
    const preview = await h.addLesson(section, {
      title: 'Preview',
      isPreview: true,
      body: '# Open',
      resources: [{ title: 'Slides', url: 'https://example.com/s.pdf' }],
    });
    const closed = await h.addLesson(section, {
      title: 'Closed',
      body: '# Secret',
      type: 'video',
      durationMinutes: 12,
    });
    expect(closed.body.data).toMatchObject({
      type: 'video',
      durationMinutes: 12,
      locked: false,
      body: '# Secret',
    });
    const get = (id: number, token?: string) =>
      t.request({ method: 'GET', url: `/api/lessons/${id}`, token });

    const anonPreview = await get(preview.body.data.lessonId);
    expect(anonPreview.status).toBe(200);
    expect(anonPreview.body.data).toMatchObject({
      locked: false,
      body: '# Open',
      resources: [{ title: 'Slides', url: 'https://example.com/s.pdf' }],
    });
    for (const token of [undefined, student.token, otherInstructor.token]) {
      const res = await get(closed.body.data.lessonId, token);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        title: 'Closed',
        durationMinutes: 12,
        isPreview: false,
        locked: true,
      });
      expect(res.body.data).not.toHaveProperty('body');
      expect(res.body.data).not.toHaveProperty('resources');
    }
    for (const token of [owner.token, coInstructor.token, admin.token]) {
      const res = await get(closed.body.data.lessonId, token);
      expect(res.body.data).toMatchObject({ locked: false, body: '# Secret' });
    }
    expect((await get(999_999)).status).toBe(404);
    expect((await get(closed.body.data.lessonId, 'not-a-token')).status).toBe(401);
  });

  it('hides lessons of draft courses, even preview ones, from all but editors', async () => {
    const course = await h.newCourse('draft');
    const section = (await h.addSection(course.id, { title: 'S' })).body.data.sectionId;
    const lesson = (await h.addLesson(section, { title: 'P', isPreview: true, body: 'x' })).body.data
      .lessonId;
    for (const token of [undefined, student.token, otherInstructor.token]) {
      expect((await t.request({ method: 'GET', url: `/api/lessons/${lesson}`, token })).status).toBe(404);
    }
    const own = await t.request({ method: 'GET', url: `/api/lessons/${lesson}`, token: owner.token });
    expect(own.body.data).toMatchObject({ locked: false, body: 'x' });
  });
});

describe('lesson writes', () => {
  it('stores drip fields, edits any field, and keeps release fields exclusive', async () => {
    const course = await h.newCourse('draft');
    const section = (await h.addSection(course.id, { title: 'S' })).body.data.sectionId;
    const created = await h.addLesson(section, { title: 'Drip', releaseAfterDays: 7 });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      type: 'text',
      releaseAfterDays: 7,
      releaseAt: null,
      position: 0,
    });
    const id = created.body.data.lessonId;
    const patch = (payload: object) =>
      t.request({ method: 'PATCH', url: `/api/lessons/${id}`, payload, token: owner.token });

    const conflict = await patch({ releaseAt: '2030-01-01T00:00:00Z' });
    expect(conflict.status).toBe(400);
    expect(conflict.body.error.details[0].field).toBe('body.releaseAt');
    const moved = await patch({ releaseAt: '2030-01-01T00:00:00Z', releaseAfterDays: null, isPreview: true });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({
      releaseAt: '2030-01-01T00:00:00.000Z',
      releaseAfterDays: null,
      isPreview: true,
      title: 'Drip',
    });
    expect((await patch({ position: 3 })).status).toBe(400);
    expect((await patch({})).status).toBe(400);
  });

  it('rejects bad input with 400 naming the field and changes nothing', async () => {
    const course = await h.newCourse('draft');
    const { sectionId, lessonIds } = await h.sectionWithLessons(course.id, ['keep']);
    const before = await h.curriculumOf(course.id);
    const bad: Array<[object, string]> = [
      [{ title: 'x', releaseAfterDays: 3, releaseAt: '2030-01-01T00:00:00Z' }, 'body.releaseAt'],
      [{ title: 'x', resources: [{ title: 'r', url: 'javascript:alert(1)' }] }, 'body.resources.0.url'],
      [{ title: 'x', resources: [{ title: 'r', url: 'ftp://example.com/f' }] }, 'body.resources.0.url'],
      [{ title: 'x', durationMinutes: -1 }, 'body.durationMinutes'],
      [{ title: 'x', durationMinutes: 1441 }, 'body.durationMinutes'],
      [{ title: 'x', type: 'podcast' }, 'body.type'],
      [{ title: 'x', releaseAfterDays: 3651 }, 'body.releaseAfterDays'],
      [{ title: 'x', releaseAt: 'tomorrow' }, 'body.releaseAt'],
      [{ title: 'x', body: 'a'.repeat(100_001) }, 'body.body'],
      [
        { title: 'x', resources: Array.from({ length: 21 }, () => ({ title: 'r', url: 'https://e.com' })) },
        'body.resources',
      ],
      [{ title: '' }, 'body.title'],
      [{ durationMinutes: 5 }, 'body.title'],
      [{ title: 'x', extra: 1 }, 'body'],
    ];
    for (const [payload, field] of bad) {
      const res = await h.addLesson(sectionId, payload);
      expect(res.status, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      if ('title' in payload) {
        const edit = await t.request({
          method: 'PATCH',
          url: `/api/lessons/${lessonIds[0]}`,
          payload,
          token: owner.token,
        });
        expect(edit.status, `PATCH ${JSON.stringify(payload).slice(0, 80)}`).toBe(400);
      }
    }
    expect((await h.addSection(course.id, { title: 'S', position: -1 })).body.error.details[0].field).toBe(
      'body.position',
    );
    expect((await h.addSection(course.id, { title: '  ' })).body.error.details[0].field).toBe('body.title');
    expect(await h.curriculumOf(course.id)).toEqual(before);
  });

  it('inserts at a position, and deleting a lesson closes the gap', async () => {
    const course = await h.newCourse('draft');
    const { sectionId, lessonIds } = await h.sectionWithLessons(course.id, ['a', 'b', 'c']);
    const first = await h.addLesson(sectionId, { title: 'first', position: 0 });
    expect(first.body.data.position).toBe(0);
    await t.request({ method: 'DELETE', url: `/api/lessons/${lessonIds[1]}`, token: owner.token });
    expect((await h.curriculumOf(course.id)).lessons.map((l) => [l.title, l.position])).toEqual([
      ['first', 0],
      ['a', 1],
      ['c', 2],
    ]);
  });

  it('recomputes the course duration after add, edit and delete', async () => {
    const course = await h.newCourse('draft');
    const { lessonIds } = await h.sectionWithLessons(course.id, ['a', 'b']);
    expect(await h.durationOf(course.id)).toBe(20);
    await t.request({
      method: 'PATCH',
      url: `/api/lessons/${lessonIds[0]}`,
      payload: { durationMinutes: 45 },
      token: owner.token,
    });
    expect(await h.durationOf(course.id)).toBe(55);
    await t.request({ method: 'DELETE', url: `/api/lessons/${lessonIds[1]}`, token: owner.token });
    expect(await h.durationOf(course.id)).toBe(45);
  });

  it('keeps at least one lesson in a published course (409)', async () => {
    const course = await h.newCourse('published');
    const { sectionId, lessonIds } = await h.sectionWithLessons(course.id, ['only']);
    const empty = await h.addSection(course.id, { title: 'Empty' });
    const del = await t.request({
      method: 'DELETE',
      url: `/api/lessons/${lessonIds[0]}`,
      token: owner.token,
    });
    expect(del.status).toBe(409);
    const delSection = await t.request({
      method: 'DELETE',
      url: `/api/sections/${sectionId}`,
      token: owner.token,
    });
    expect(delSection.status).toBe(409);
    const delEmpty = await t.request({
      method: 'DELETE',
      url: `/api/sections/${empty.body.data.sectionId}`,
      token: owner.token,
    });
    expect(delEmpty.status).toBe(200);
    expect((await h.curriculumOf(course.id)).lessons).toHaveLength(1);
  });

  it('publishes LessonAdded for lessons added to published courses only', async () => {
    const published = await h.newCourse('published');
    const draft = await h.newCourse('draft');
    const pub = await h.sectionWithLessons(published.id, ['Announced']);
    await h.sectionWithLessons(draft.id, ['Quiet']);
    const ofThese = () => lessonEvents.filter((e) => [published.id, draft.id].includes(e.payload.courseId));
    await waitFor(async () => ofThese().length >= 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(ofThese()).toHaveLength(1);
    expect(ofThese()[0]).toMatchObject({
      name: LESSON_ADDED,
      payload: {
        courseId: published.id,
        lessonId: pub.lessonIds[0],
        title: 'Announced',
        courseTitle: published.title,
      },
    });
  });
});
