import { and, asc, count, eq, gt, gte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { courses, lessons, sections } from './catalog.tables.ts';

export type SectionRow = typeof sections.$inferSelect;
export type LessonRow = typeof lessons.$inferSelect;
export type NewLesson = typeof lessons.$inferInsert;
export type LessonPatch = Partial<
  Pick<
    NewLesson,
    | 'title'
    | 'type'
    | 'durationMinutes'
    | 'isPreview'
    | 'body'
    | 'resources'
    | 'releaseAfterDays'
    | 'releaseAt'
  >
>;

export async function findSection(db: DbOrTx, id: number): Promise<SectionRow | undefined> {
  const [row] = await db.select().from(sections).where(eq(sections.id, id));
  return row;
}

export async function findLesson(db: DbOrTx, id: number): Promise<LessonRow | undefined> {
  const [row] = await db.select().from(lessons).where(eq(lessons.id, id));
  return row;
}

/** A lesson with the status and title of its course, for access checks by other modules. */
export async function findLessonWithCourse(db: DbOrTx, id: number) {
  const [row] = await db
    .select({ lesson: lessons, courseStatus: courses.status })
    .from(lessons)
    .innerJoin(courses, eq(courses.id, lessons.courseId))
    .where(eq(lessons.id, id));
  return row;
}

/** A course's sections in order. */
export async function listSections(db: DbOrTx, courseId: number): Promise<SectionRow[]> {
  return db
    .select()
    .from(sections)
    .where(eq(sections.courseId, courseId))
    .orderBy(asc(sections.position), asc(sections.id));
}

/** A course's lessons, ordered by section position, then lesson position. */
export async function listLessonsInOrder(db: DbOrTx, courseId: number) {
  return db
    .select({
      lessonId: lessons.id,
      sectionId: lessons.sectionId,
      title: lessons.title,
      position: lessons.position,
      durationMinutes: lessons.durationMinutes,
      releaseAfterDays: lessons.releaseAfterDays,
      releaseAt: lessons.releaseAt,
    })
    .from(lessons)
    .innerJoin(sections, eq(sections.id, lessons.sectionId))
    .where(eq(lessons.courseId, courseId))
    .orderBy(asc(sections.position), asc(lessons.position), asc(lessons.id));
}

export async function countSections(db: DbOrTx, courseId: number): Promise<number> {
  const [row] = await db.select({ n: count() }).from(sections).where(eq(sections.courseId, courseId));
  return row?.n ?? 0;
}

export async function countLessonsInSection(db: DbOrTx, sectionId: number): Promise<number> {
  const [row] = await db.select({ n: count() }).from(lessons).where(eq(lessons.sectionId, sectionId));
  return row?.n ?? 0;
}

export async function countLessonsInCourse(db: DbOrTx, courseId: number): Promise<number> {
  const [row] = await db.select({ n: count() }).from(lessons).where(eq(lessons.courseId, courseId));
  return row?.n ?? 0;
}

/** Moves the sections at `from` and after one place down (+1) or up (-1). */
export async function shiftSections(db: DbOrTx, courseId: number, from: number, by: 1 | -1): Promise<void> {
  await db
    .update(sections)
    .set({ position: sql`${sections.position} + ${by}` })
    .where(
      and(
        eq(sections.courseId, courseId),
        by === 1 ? gte(sections.position, from) : gt(sections.position, from),
      ),
    );
}

/** Moves the lessons at `from` and after one place down (+1), or those after `from` up (-1). */
export async function shiftLessons(db: DbOrTx, sectionId: number, from: number, by: 1 | -1): Promise<void> {
  await db
    .update(lessons)
    .set({ position: sql`${lessons.position} + ${by}` })
    .where(
      and(
        eq(lessons.sectionId, sectionId),
        by === 1 ? gte(lessons.position, from) : gt(lessons.position, from),
      ),
    );
}

export async function insertSection(
  db: DbOrTx,
  values: { courseId: number; title: string; position: number },
): Promise<SectionRow> {
  const [row] = await db.insert(sections).values(values).returning();
  return row!;
}

export async function updateSectionTitle(db: DbOrTx, id: number, title: string): Promise<SectionRow> {
  const [row] = await db
    .update(sections)
    .set({ title, updatedAt: sql`now()` })
    .where(eq(sections.id, id))
    .returning();
  return row!;
}

/** Deletes a section and, by cascade, its lessons. */
export async function deleteSection(db: DbOrTx, id: number): Promise<void> {
  await db.delete(sections).where(eq(sections.id, id));
}

export async function insertLesson(db: DbOrTx, values: NewLesson): Promise<LessonRow> {
  const [row] = await db.insert(lessons).values(values).returning();
  return row!;
}

export async function updateLesson(db: DbOrTx, id: number, patch: LessonPatch): Promise<LessonRow> {
  const [row] = await db
    .update(lessons)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(lessons.id, id))
    .returning();
  return row!;
}

export async function deleteLesson(db: DbOrTx, id: number): Promise<void> {
  await db.delete(lessons).where(eq(lessons.id, id));
}

/** Rewrites the position of every listed section in one statement. */
export async function setSectionPositions(
  db: DbOrTx,
  rows: Array<{ id: number; position: number }>,
): Promise<void> {
  if (rows.length === 0) return;
  const values = sql.join(
    rows.map((r) => sql`(${r.id}::int, ${r.position}::int)`),
    sql`, `,
  );
  await db.execute(sql`
    update catalog.sections as s set position = v.position, updated_at = now()
    from (values ${values}) as v(id, position)
    where s.id = v.id and s.position <> v.position`);
}

/** Rewrites the section and position of every listed lesson in one statement. */
export async function setLessonPlaces(
  db: DbOrTx,
  rows: Array<{ id: number; sectionId: number; position: number }>,
): Promise<void> {
  if (rows.length === 0) return;
  const values = sql.join(
    rows.map((r) => sql`(${r.id}::int, ${r.sectionId}::int, ${r.position}::int)`),
    sql`, `,
  );
  await db.execute(sql`
    update catalog.lessons as l set section_id = v.section_id, position = v.position, updated_at = now()
    from (values ${values}) as v(id, section_id, position)
    where l.id = v.id and (l.section_id <> v.section_id or l.position <> v.position)`);
}

/** Lesson ids of a course, for reorder validation. */
export async function listLessonIds(db: DbOrTx, courseId: number): Promise<number[]> {
  const rows = await db.select({ id: lessons.id }).from(lessons).where(eq(lessons.courseId, courseId));
  return rows.map((r) => r.id);
}
