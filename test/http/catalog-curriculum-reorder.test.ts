import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { curriculumHelpers } from '../factories/curriculum.ts';
import { createUserWithRole } from '../factories/users.ts';

type Caller = { userId: number; token: string };

let t: TestApp;
let h: ReturnType<typeof curriculumHelpers>;
let owner: Caller;
let coInstructor: Caller;

beforeAll(async () => {
  t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  [owner, coInstructor] = await Promise.all([
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'instructor'),
  ]);
  h = curriculumHelpers(t, { owner, coInstructor });
});
afterAll(() => t.close());

describe('caching', () => {
  it('never serves a stale public course outline after a curriculum edit returns', async () => {
    const course = await h.newCourse('published');
    const { sectionId, lessonIds } = await h.sectionWithLessons(course.id, ['first']);
    const outline = async () => {
      const res = await t.request({ method: 'GET', url: `/api/courses/${course.id}` });
      expect(res.status).toBe(200);
      return {
        duration: res.body.data.durationMinutes as number,
        lessons: res.body.data.outline.flatMap((s: any) => s.lessons.map((l: any) => l.title)) as string[],
      };
    };
    expect(await outline()).toEqual({ duration: 10, lessons: ['first'] });
    expect(await outline()).toEqual({ duration: 10, lessons: ['first'] }); // now from the cache
    await h.addLesson(sectionId, { title: 'second', durationMinutes: 5 });
    expect(await outline()).toEqual({ duration: 15, lessons: ['first', 'second'] });
    await t.request({
      method: 'PATCH',
      url: `/api/lessons/${lessonIds[0]}`,
      payload: { title: 'renamed' },
      token: owner.token,
    });
    expect((await outline()).lessons).toEqual(['renamed', 'second']);
  });
});

describe('reorder', () => {
  const reorder = (courseId: number, sections: object[], token = owner.token) =>
    t.request({
      method: 'POST',
      url: `/api/courses/${courseId}/curriculum/reorder`,
      payload: { sections },
      token,
    });

  it('moves sections and lessons, also across sections, gap-free', async () => {
    const course = await h.newCourse('draft');
    const s1 = await h.sectionWithLessons(course.id, ['a', 'b', 'c']);
    const s2 = await h.sectionWithLessons(course.id, ['d']);
    const [a, b, c] = s1.lessonIds as [number, number, number];
    const [d] = s2.lessonIds as [number];
    const res = await reorder(course.id, [
      { sectionId: s2.sectionId, lessonIds: [c, d, a] },
      { sectionId: s1.sectionId, lessonIds: [b] },
    ]);
    expect(res.status).toBe(200);
    expect(
      res.body.data.sections.map((s: any) => [
        s.sectionId,
        s.position,
        s.lessons.map((l: any) => l.lessonId),
      ]),
    ).toEqual([
      [s2.sectionId, 0, [c, d, a]],
      [s1.sectionId, 1, [b]],
    ]);
    const stored = await h.curriculumOf(course.id);
    expect(stored.lessons.filter((l) => l.sectionId === s2.sectionId).map((l) => [l.id, l.position])).toEqual(
      [
        [c, 0],
        [d, 1],
        [a, 2],
      ],
    );
    expect(stored.lessons.find((l) => l.id === b)).toMatchObject({ sectionId: s1.sectionId, position: 0 });

    const info = await t.app.modules.catalog.getLessonAccessInfo(a);
    expect(info).toMatchObject({
      lessonId: a,
      courseId: course.id,
      courseStatus: 'draft',
      sectionId: s2.sectionId,
      type: 'text',
      durationMinutes: 10,
      isPreview: false,
      releaseAfterDays: null,
      releaseAt: null,
    });
    expect(await t.app.modules.catalog.getLessonAccessInfo(999_999)).toBeNull();
    const ordered = await t.app.modules.catalog.listCourseLessons(course.id);
    expect(ordered.map((l) => [l.lessonId, l.sectionId, l.position])).toEqual([
      [c, s2.sectionId, 0],
      [d, s2.sectionId, 1],
      [a, s2.sectionId, 2],
      [b, s1.sectionId, 0],
    ]);
  });

  it('rejects missing, duplicated and foreign items with 400 and changes nothing', async () => {
    const course = await h.newCourse('draft');
    const other = await h.newCourse('draft');
    const s1 = await h.sectionWithLessons(course.id, ['a', 'b']);
    const s2 = await h.sectionWithLessons(course.id, ['c']);
    const foreign = await h.sectionWithLessons(other.id, ['x']);
    const before = await h.curriculumOf(course.id);
    const [a, b] = s1.lessonIds as [number, number];
    const [c] = s2.lessonIds as [number];
    const cases: Array<[object[], string, RegExp]> = [
      [
        [
          { sectionId: s1.sectionId, lessonIds: [a, b] },
          { sectionId: s2.sectionId, lessonIds: [] },
        ],
        'body.sections',
        /Missing lessons: /,
      ],
      [[{ sectionId: s1.sectionId, lessonIds: [a, b, c] }], 'body.sections', /Missing sections: /],
      [
        [
          { sectionId: s1.sectionId, lessonIds: [a, b, a] },
          { sectionId: s2.sectionId, lessonIds: [c] },
        ],
        'body.sections.0.lessonIds.2',
        /more than once/,
      ],
      [
        [
          { sectionId: s1.sectionId, lessonIds: [a, b] },
          { sectionId: s1.sectionId, lessonIds: [c] },
        ],
        'body.sections.1.sectionId',
        /more than once/,
      ],
      [
        [
          { sectionId: s1.sectionId, lessonIds: [a, b] },
          { sectionId: s2.sectionId, lessonIds: [c] },
          { sectionId: foreign.sectionId, lessonIds: [] },
        ],
        'body.sections.2.sectionId',
        /not part of this course/,
      ],
      [
        [
          { sectionId: s1.sectionId, lessonIds: [a, b, foreign.lessonIds[0]!] },
          { sectionId: s2.sectionId, lessonIds: [c] },
        ],
        'body.sections.0.lessonIds.2',
        /not part of this course/,
      ],
    ];
    for (const [sections, field, message] of cases) {
      const res = await reorder(course.id, sections);
      expect(res.status).toBe(400);
      const detail = res.body.error.details.find((d: { field: string }) => d.field === field);
      expect(detail?.message, JSON.stringify(res.body.error.details)).toMatch(message);
    }
    expect((await reorder(course.id, [{ sectionId: 'one', lessonIds: [] }])).status).toBe(400);
    expect(await h.curriculumOf(course.id)).toEqual(before);
  });

  it('keeps positions gap-free under concurrent edits of one course', async () => {
    const course = await h.newCourse('published');
    const s1 = await h.sectionWithLessons(course.id, ['a', 'b', 'c']);
    const s2 = await h.sectionWithLessons(course.id, ['d', 'e']);
    const all = [...s1.lessonIds, ...s2.lessonIds];
    const requests = [
      ...Array.from({ length: 10 }, (_, i) =>
        h.addLesson(i % 2 ? s1.sectionId : s2.sectionId, {
          title: `p${i}`,
          durationMinutes: 1,
          ...(i % 3 === 0 ? { position: 0 } : {}),
        }),
      ),
      ...Array.from({ length: 5 }, (_, i) =>
        reorder(course.id, [
          { sectionId: i % 2 ? s1.sectionId : s2.sectionId, lessonIds: all.slice(0, 2 + i) },
          { sectionId: i % 2 ? s2.sectionId : s1.sectionId, lessonIds: all.slice(2 + i) },
        ]),
      ),
      ...Array.from({ length: 3 }, (_, i) => h.addSection(course.id, { title: `new ${i}`, position: 0 })),
      t.request({ method: 'DELETE', url: `/api/lessons/${all[0]}`, token: owner.token }),
    ];
    const results = await Promise.all(requests);
    for (const res of results) expect([200, 201, 400]).toContain(res.status);
    expect(results.slice(0, 10).every((r) => r.status === 201)).toBe(true);

    const { sections, lessons } = await h.curriculumOf(course.id);
    expect(sections.map((s) => s.position)).toEqual([0, 1, 2, 3, 4]);
    expect(lessons).toHaveLength(14);
    for (const s of sections) {
      const positions = lessons.filter((l) => l.sectionId === s.id).map((l) => l.position);
      expect(positions).toEqual(positions.map((_, i) => i));
    }
    expect(await h.durationOf(course.id)).toBe(4 * 10 + 10);
  });
});
