import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { courseInstructors, courses, lessons } from './catalog.tables.ts';

export type CourseRow = typeof courses.$inferSelect;

/** A course by numeric id or by slug (`GET /api/courses/{id}` accepts both). */
export async function findCourseByIdOrSlug(
  db: DbOrTx,
  idOrSlug: string | number,
): Promise<CourseRow | undefined> {
  const asId =
    typeof idOrSlug === 'number' ? idOrSlug : /^\d{1,9}$/.test(idOrSlug) ? Number(idOrSlug) : undefined;
  const [row] = await db
    .select()
    .from(courses)
    .where(asId !== undefined ? eq(courses.id, asId) : eq(courses.slug, String(idOrSlug)));
  return row;
}

/**
 * Locks a course row for the rest of the transaction. Every curriculum or status change takes
 * this lock first, so concurrent edits of one course run one after another and positions stay
 * gap-free.
 */
export async function lockCourse(tx: DbOrTx, courseId: number): Promise<CourseRow | undefined> {
  const [row] = await tx.select().from(courses).where(eq(courses.id, courseId)).for('update');
  return row;
}

/** User ids of a course's owner and co-instructors. */
export async function listCourseInstructorIds(db: DbOrTx, courseId: number): Promise<number[]> {
  const rows = await db
    .select({ userId: courseInstructors.userId })
    .from(courseInstructors)
    .where(eq(courseInstructors.courseId, courseId));
  return rows.map((r) => r.userId);
}

export async function isCourseInstructor(db: DbOrTx, courseId: number, userId: number): Promise<boolean> {
  const [row] = await db
    .select({ userId: courseInstructors.userId })
    .from(courseInstructors)
    .where(and(eq(courseInstructors.courseId, courseId), eq(courseInstructors.userId, userId)));
  return Boolean(row);
}

/**
 * Rebuilds a course's full-text document: title (weight A), subtitle and tags (B), instructor
 * name (C, 'simple' config so names are not stemmed), description (D). Call after any write that
 * changes one of them.
 */
export async function refreshSearchVector(db: DbOrTx, courseId: number): Promise<void> {
  await db
    .update(courses)
    .set({
      searchVector: sql`setweight(to_tsvector('english', ${courses.title}), 'A')
        || setweight(to_tsvector('english', coalesce(${courses.subtitle}, '')), 'B')
        || setweight(to_tsvector('english', array_to_string(${courses.tags}, ' ')), 'B')
        || setweight(to_tsvector('simple', ${courses.instructorName}), 'C')
        || setweight(to_tsvector('english', ${courses.description}), 'D')`,
    })
    .where(eq(courses.id, courseId));
}

/** Sets a course's duration to the sum of its lessons' minutes. */
export async function recomputeCourseDuration(db: DbOrTx, courseId: number): Promise<void> {
  await db
    .update(courses)
    .set({
      durationMinutes: sql`(select coalesce(sum(${lessons.durationMinutes}), 0) from ${lessons} where ${lessons.courseId} = ${courseId})`,
      updatedAt: sql`now()`,
    })
    .where(eq(courses.id, courseId));
}

/** Keeps the denormalised instructor name of every course a user owns in step with their profile. */
export async function renameInstructor(db: DbOrTx, userId: number, name: string): Promise<number[]> {
  const rows = await db
    .update(courses)
    .set({ instructorName: name })
    .where(eq(courses.ownerId, userId))
    .returning({ id: courses.id });
  for (const { id } of rows) await refreshSearchVector(db, id);
  return rows.map((r) => r.id);
}

/** Rebuilds the search documents of every course in an id range (bulk loads). */
export async function refreshSearchVectorsInRange(db: DbOrTx, fromId: number, toId: number): Promise<void> {
  await db.execute(sql`
    update catalog.courses set search_vector =
        setweight(to_tsvector('english', title), 'A')
      || setweight(to_tsvector('english', coalesce(subtitle, '')), 'B')
      || setweight(to_tsvector('english', array_to_string(tags, ' ')), 'B')
      || setweight(to_tsvector('simple', instructor_name), 'C')
      || setweight(to_tsvector('english', description), 'D')
    where id between ${fromId} and ${toId}`);
}
