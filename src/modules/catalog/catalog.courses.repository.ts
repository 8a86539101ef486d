import { and, asc, count, eq, inArray, like, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import {
  categories,
  coursePrerequisites,
  courseInstructors,
  courses,
  lessons,
  sections,
} from './catalog.tables.ts';

export type NewCourseRow = typeof courses.$inferInsert;
export type CourseChanges = Partial<
  Pick<
    NewCourseRow,
    | 'slug'
    | 'title'
    | 'subtitle'
    | 'description'
    | 'categoryId'
    | 'tags'
    | 'difficulty'
    | 'language'
    | 'priceMinor'
    | 'currency'
    | 'status'
    | 'publishedAt'
    | 'archivedAt'
    | 'coverImageKey'
    | 'coverImageUrl'
  >
>;

/** Inserts a course and its owner row in course_instructors. */
export async function insertCourseWithOwner(tx: DbOrTx, values: NewCourseRow) {
  const [row] = await tx.insert(courses).values(values).returning();
  await tx.insert(courseInstructors).values({ courseId: row!.id, userId: values.ownerId, role: 'owner' });
  return row!;
}

/** Applies changes to a course and bumps `updated_at`. */
export async function updateCourse(tx: DbOrTx, courseId: number, changes: CourseChanges) {
  await tx
    .update(courses)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(eq(courses.id, courseId));
}

/** Deletes a course; sections, lessons, instructors and prerequisites go with it (cascade). */
export async function deleteCourse(tx: DbOrTx, courseId: number) {
  await tx.delete(courses).where(eq(courses.id, courseId));
}

/** Slugs equal to `base` or of the form `base-…`, to pick a free numeric suffix. */
export async function listSlugsLike(db: DbOrTx, base: string): Promise<string[]> {
  const rows = await db
    .select({ slug: courses.slug })
    .from(courses)
    .where(or(eq(courses.slug, base), like(courses.slug, `${base}-%`)));
  return rows.map((r) => r.slug);
}

export async function slugTaken(db: DbOrTx, slug: string, exceptCourseId?: number): Promise<boolean> {
  const [row] = await db.select({ id: courses.id }).from(courses).where(eq(courses.slug, slug));
  return Boolean(row && row.id !== exceptCourseId);
}

export async function findCategory(db: DbOrTx, id: number) {
  const [row] = await db
    .select({ id: categories.id, name: categories.name, slug: categories.slug })
    .from(categories)
    .where(eq(categories.id, id));
  return row;
}

/** Owner and co-instructors with their roles, owner first. */
export async function listInstructors(db: DbOrTx, courseId: number) {
  return db
    .select({ userId: courseInstructors.userId, role: courseInstructors.role })
    .from(courseInstructors)
    .where(eq(courseInstructors.courseId, courseId))
    .orderBy(asc(courseInstructors.addedAt), asc(courseInstructors.userId));
}

export async function insertCoInstructor(tx: DbOrTx, courseId: number, userId: number) {
  await tx.insert(courseInstructors).values({ courseId, userId, role: 'co' });
}

/** Removes a co-instructor; returns whether there was one. */
export async function deleteCoInstructor(tx: DbOrTx, courseId: number, userId: number): Promise<boolean> {
  const rows = await tx
    .delete(courseInstructors)
    .where(
      and(
        eq(courseInstructors.courseId, courseId),
        eq(courseInstructors.userId, userId),
        eq(courseInstructors.role, 'co'),
      ),
    )
    .returning({ userId: courseInstructors.userId });
  return rows.length > 0;
}

/** The courses a course requires, with their status so callers can hide unpublished ones. */
export async function listPrerequisites(db: DbOrTx, courseId: number) {
  return db
    .select({ courseId: courses.id, title: courses.title, slug: courses.slug, status: courses.status })
    .from(coursePrerequisites)
    .innerJoin(courses, eq(courses.id, coursePrerequisites.requiredCourseId))
    .where(eq(coursePrerequisites.courseId, courseId))
    .orderBy(asc(courses.id));
}

/** Courses among `ids` that exist, with what visibility checks need. */
export async function findCoursesByIds(db: DbOrTx, ids: number[]) {
  if (ids.length === 0) return [];
  return db
    .select({ id: courses.id, status: courses.status, ownerId: courses.ownerId })
    .from(courses)
    .where(inArray(courses.id, ids));
}

/**
 * Serialises every prerequisite change in the database: two concurrent edits (A requires B, B
 * requires A) would each pass the cycle check on their own.
 */
export async function lockPrerequisiteGraph(tx: DbOrTx) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog.course_prerequisites'))`);
}

/** Whether `courseId` is reachable from any of `fromIds` along prerequisite edges. */
export async function reachesCourse(db: DbOrTx, fromIds: number[], courseId: number): Promise<boolean> {
  if (fromIds.length === 0) return false;
  const start = sql.join(
    fromIds.map((id) => sql`(${id}::int)`),
    sql`, `,
  );
  const result = await db.execute(sql`
    with recursive reach(id) as (
      select v.id from (values ${start}) as v(id)
      union
      select p.required_course_id from catalog.course_prerequisites p join reach r on p.course_id = r.id
    )
    select 1 as found from reach where id = ${courseId} limit 1`);
  const rows = (result as unknown as { rows?: unknown[] }).rows ?? (result as unknown as unknown[]);
  return rows.length > 0;
}

export async function replacePrerequisites(tx: DbOrTx, courseId: number, requiredIds: number[]) {
  await tx.delete(coursePrerequisites).where(eq(coursePrerequisites.courseId, courseId));
  if (requiredIds.length > 0) {
    await tx
      .insert(coursePrerequisites)
      .values(requiredIds.map((requiredCourseId) => ({ courseId, requiredCourseId })));
  }
}

/** Sections in order, for the outline. */
export async function listSections(db: DbOrTx, courseId: number) {
  return db
    .select({ sectionId: sections.id, title: sections.title, position: sections.position })
    .from(sections)
    .where(eq(sections.courseId, courseId))
    .orderBy(asc(sections.position), asc(sections.id));
}

/** Lesson summaries in order (never bodies), for the outline. */
export async function listLessonSummaries(db: DbOrTx, courseId: number) {
  return db
    .select({
      lessonId: lessons.id,
      sectionId: lessons.sectionId,
      title: lessons.title,
      type: lessons.type,
      durationMinutes: lessons.durationMinutes,
      isPreview: lessons.isPreview,
      releaseAfterDays: lessons.releaseAfterDays,
      releaseAt: lessons.releaseAt,
    })
    .from(lessons)
    .where(eq(lessons.courseId, courseId))
    .orderBy(asc(lessons.position), asc(lessons.id));
}

/** A course's lessons with bodies, ordered within their sections (the enrolled student's content). */
export async function listLessonContent(db: DbOrTx, courseId: number) {
  return db
    .select()
    .from(lessons)
    .where(eq(lessons.courseId, courseId))
    .orderBy(asc(lessons.position), asc(lessons.id));
}

/** Id, title, slug and status of the courses among `ids` that exist (titles for other modules' lists). */
export async function listCourseSummaries(db: DbOrTx, ids: number[]) {
  if (ids.length === 0) return [];
  return db
    .select({ courseId: courses.id, title: courses.title, slug: courses.slug, status: courses.status })
    .from(courses)
    .where(inArray(courses.id, ids));
}

/** Moves a course's popularity counter by `delta`, never below zero. */
export async function adjustEnrollmentCount(db: DbOrTx, courseId: number, delta: 1 | -1) {
  await db
    .update(courses)
    .set({ enrollmentCount: sql`greatest(${courses.enrollmentCount} + ${delta}, 0)` })
    .where(eq(courses.id, courseId));
}

export async function countLessons(db: DbOrTx, courseId: number): Promise<number> {
  const [row] = await db.select({ n: count() }).from(lessons).where(eq(lessons.courseId, courseId));
  return Number(row?.n ?? 0);
}
