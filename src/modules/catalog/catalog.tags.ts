import { inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { tags } from './catalog.tables.ts';

export const MAX_TAG_LENGTH = 50;
export const MAX_TAGS_PER_COURSE = 10;

/** A tag as stored: trimmed, lower-case, inner whitespace collapsed to one space. */
export function normaliseTag(raw: string): string {
  return raw.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Normalised tags without duplicates, first occurrence first. */
export function normaliseTags(raw: readonly string[]): string[] {
  return [...new Set(raw.map(normaliseTag))];
}

/**
 * Keeps `catalog.tags.course_count` in step when a course's tags change from `before` to `after`
 * (either may be empty for a new or deleted course). Call inside the course's transaction.
 */
export async function adjustTagCounts(
  tx: DbOrTx,
  before: readonly string[],
  after: readonly string[],
): Promise<void> {
  const removed = before.filter((t) => !after.includes(t));
  const added = after.filter((t) => !before.includes(t));
  if (removed.length > 0) {
    await tx
      .update(tags)
      .set({ courseCount: sql`greatest(${tags.courseCount} - 1, 0)` })
      .where(inArray(tags.name, removed));
  }
  if (added.length > 0) {
    // Sorted so concurrent upserts of overlapping tag sets take their row locks in one order.
    await tx
      .insert(tags)
      .values([...added].sort().map((name) => ({ name, courseCount: 1 })))
      .onConflictDoUpdate({ target: tags.name, set: { courseCount: sql`${tags.courseCount} + 1` } });
  }
}
