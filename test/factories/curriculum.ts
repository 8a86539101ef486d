import { expect } from 'vitest';
import type { TestApp } from '../helpers/app.ts';
import { insertCourse } from './courses.ts';

type Caller = { userId: number; token: string };

/**
 * Curriculum test helpers bound to an app and a course's editors: courses are inserted directly
 * (with their course_instructors rows) so curriculum tests do not depend on the course CRUD API.
 */
export function curriculumHelpers(t: TestApp, editors: { owner: Caller; coInstructor: Caller }) {
  const { owner, coInstructor } = editors;
  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;

  const addSection = (courseId: number | string, payload: object, token = owner.token) =>
    t.request({ method: 'POST', url: `/api/courses/${courseId}/sections`, payload, token });

  const addLesson = (sectionId: number, payload: object, token = owner.token) =>
    t.request({ method: 'POST', url: `/api/sections/${sectionId}/lessons`, payload, token });

  return {
    sql,
    addSection,
    addLesson,

    /** A course owned by `owner`, with `coInstructor` as co-instructor. */
    async newCourse(status: 'draft' | 'published' | 'archived' = 'published') {
      const course = await insertCourse(t, { status, ownerId: owner.userId });
      await sql(
        `insert into catalog.course_instructors (course_id, user_id, role) values ($1,$2,'owner'), ($1,$3,'co')`,
        [course.id, owner.userId, coInstructor.userId],
      );
      return course;
    },

    /** Sections and lessons of a course as stored, ordered. */
    async curriculumOf(courseId: number) {
      const sections = await sql(
        'select id, title, position from catalog.sections where course_id = $1 order by position, id',
        [courseId],
      );
      const lessons = await sql(
        'select id, section_id, title, position from catalog.lessons where course_id = $1 order by section_id, position, id',
        [courseId],
      );
      return {
        sections: sections.map((s) => ({
          id: s.id as number,
          title: s.title as string,
          position: s.position,
        })),
        lessons: lessons.map((l) => ({
          id: l.id as number,
          sectionId: l.section_id as number,
          title: l.title as string,
          position: l.position as number,
        })),
      };
    },

    async durationOf(courseId: number) {
      const [row] = await sql('select duration_minutes from catalog.courses where id = $1', [courseId]);
      return row!.duration_minutes as number;
    },

    /** A new section holding one 10-minute lesson per title, created through the API. */
    async sectionWithLessons(courseId: number, titles: string[]) {
      const section = await addSection(courseId, { title: `S ${titles.join(',')}` });
      expect(section.status).toBe(201);
      const ids: number[] = [];
      for (const title of titles) {
        const res = await addLesson(section.body.data.sectionId, { title, durationMinutes: 10 });
        expect(res.status).toBe(201);
        ids.push(res.body.data.lessonId);
      }
      return { sectionId: section.body.data.sectionId as number, lessonIds: ids };
    },
  };
}
