import { asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx, SqlRow } from '../../platform/db.ts';
import { categories, courses, tags } from './catalog.tables.ts';

export type CategoryRow = typeof categories.$inferSelect;

/** Every category, in display order (position, then name). */
export async function listCategories(db: DbOrTx): Promise<CategoryRow[]> {
  return db
    .select()
    .from(categories)
    .orderBy(asc(categories.position), asc(categories.name), asc(categories.id));
}

/** Published courses per category (direct members only; the caller rolls them up the tree). */
export async function countPublishedByCategory(db: DbOrTx): Promise<Map<number, number>> {
  const rows = await db
    .select({ categoryId: courses.categoryId, n: sql<number>`count(*)::int` })
    .from(courses)
    .where(sql`${courses.status} = 'published' and ${courses.categoryId} is not null`)
    .groupBy(courses.categoryId);
  return new Map(rows.map((r) => [r.categoryId!, r.n]));
}

/**
 * Serialises category tree changes: a cycle check and the move it guards must not interleave with
 * another move. Admin writes are rare, so one table lock is simpler than locking paths.
 */
export async function lockCategoryTree(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`lock table catalog.categories in share row exclusive mode`);
}

export async function findCategory(db: DbOrTx, id: number): Promise<CategoryRow | undefined> {
  const [row] = await db.select().from(categories).where(eq(categories.id, id));
  return row;
}

export async function slugTaken(db: DbOrTx, slug: string, exceptId?: number): Promise<boolean> {
  const [row] = await db
    .select({ id: categories.id })
    .from(categories)
    .where(sql`${categories.slug} = ${slug} and ${categories.id} <> ${exceptId ?? 0}`);
  return Boolean(row);
}

/** Slugs starting with `base`, to pick a free derived slug in one query. */
export async function slugsLike(db: DbOrTx, base: string): Promise<Set<string>> {
  const rows = await db
    .select({ slug: categories.slug })
    .from(categories)
    .where(sql`${categories.slug} = ${base} or ${categories.slug} like ${`${base}-%`}`);
  return new Set(rows.map((r) => r.slug));
}

/** The next free position among a parent's children. */
export async function nextPosition(db: DbOrTx, parentId: number | null): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`coalesce(max(${categories.position}) + 1, 0)::int` })
    .from(categories)
    .where(parentId === null ? sql`${categories.parentId} is null` : eq(categories.parentId, parentId));
  return row?.n ?? 0;
}

export async function insertCategory(
  db: DbOrTx,
  values: { name: string; slug: string; parentId: number | null; position: number },
): Promise<CategoryRow> {
  const [row] = await db.insert(categories).values(values).returning();
  return row!;
}

export async function updateCategory(
  db: DbOrTx,
  id: number,
  values: Partial<{ name: string; slug: string; parentId: number | null; position: number }>,
): Promise<CategoryRow | undefined> {
  const [row] = await db.update(categories).set(values).where(eq(categories.id, id)).returning();
  return row;
}

/** True when `candidate` is `id` itself or one of its descendants. */
export async function isInSubtree(db: DbOrTx, id: number, candidate: number): Promise<boolean> {
  const result = (await db.execute(sql`
    with recursive sub(id) as (
      select ${id}::int
      union
      select ch.id from catalog.categories ch join sub on ch.parent_id = sub.id
    ) select 1 as hit from sub where id = ${candidate}::int`)) as unknown as { rows: SqlRow[] };
  return result.rows.length > 0;
}

export async function countChildren(db: DbOrTx, id: number): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(categories)
    .where(eq(categories.parentId, id));
  return row?.n ?? 0;
}

/** Courses of any status in the category: drafts would silently lose their category otherwise. */
export async function countCoursesIn(db: DbOrTx, id: number): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(courses)
    .where(eq(courses.categoryId, id));
  return row?.n ?? 0;
}

export async function deleteCategory(db: DbOrTx, id: number): Promise<void> {
  await db.delete(categories).where(eq(categories.id, id));
}

/**
 * Tags whose normalised name starts with or resembles `q` (prefix matches first), most used
 * first; without `q`, the most used tags.
 */
export async function searchTags(db: DbOrTx, q: string | undefined, limit: number) {
  if (q === undefined) {
    return db
      .select({ name: tags.name, courseCount: tags.courseCount })
      .from(tags)
      .orderBy(sql`${tags.courseCount} desc`, asc(tags.name))
      .limit(limit);
  }
  const prefix = `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return db
    .select({ name: tags.name, courseCount: tags.courseCount })
    .from(tags)
    .where(sql`${tags.name} like ${prefix} or ${tags.name} % ${q}`)
    .orderBy(
      sql`(${tags.name} like ${prefix}) desc`,
      sql`${tags.courseCount} desc`,
      sql`similarity(${tags.name}, ${q}) desc`,
      asc(tags.name),
    )
    .limit(limit);
}
