import { randomBytes } from 'node:crypto';
import { refreshSearchVector } from '../../src/modules/catalog/catalog.repository.ts';
import { courses, lessons, sections } from '../../src/modules/catalog/catalog.tables.ts';
import type { TestApp } from '../helpers/app.ts';

type NewCourse = typeof courses.$inferInsert;

/**
 * Inserts a course row directly (published by default) with its search document, for tests of
 * listing and search that should not depend on the authoring API. Optionally adds one section
 * with `lessons` lessons.
 */
export async function insertCourse(t: TestApp, overrides: Partial<NewCourse> & { lessons?: number } = {}) {
  const { lessons: lessonCount = 0, ...values } = overrides;
  const title = values.title ?? `Course ${randomBytes(3).toString('hex')}`;
  const status = values.status ?? 'published';
  const db = t.app.platform.db;
  const [course] = await db
    .insert(courses)
    .values({
      slug: `${title
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}-${randomBytes(3).toString('hex')}`,
      description: 'A course for tests',
      ownerId: 1,
      instructorName: 'Test Instructor',
      publishedAt: status === 'published' ? new Date() : null,
      ...values,
      title,
      status,
    })
    .returning();
  if (lessonCount > 0) {
    const [section] = await db
      .insert(sections)
      .values({ courseId: course!.id, title: 'Section 1', position: 0 })
      .returning();
    for (let i = 0; i < lessonCount; i++) {
      await db.insert(lessons).values({
        courseId: course!.id,
        sectionId: section!.id,
        title: `Lesson ${i + 1}`,
        position: i,
        durationMinutes: 10,
      });
    }
  }
  await refreshSearchVector(db, course!.id);
  return course!;
}
