import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { users } from './identity.tables.ts';

/**
 * Points a user's avatar at a stored object (or at nothing) and returns the key it replaced.
 * The row is locked first, so of two racing uploads each sees the other's key as "previous" and
 * no stored object is left without a row pointing at it. Undefined when the user is missing or erased.
 */
export async function setAvatar(
  db: DbOrTx,
  userId: number,
  values: { avatarKey: string | null; avatarUrl: string | null },
): Promise<{ previousKey: string | null } | undefined> {
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select({ avatarKey: users.avatarKey, deletedAt: users.deletedAt })
      .from(users)
      .where(eq(users.id, userId))
      .for('update');
    if (!current || current.deletedAt) return undefined;
    await tx
      .update(users)
      .set({ ...values, updatedAt: sql`now()` })
      .where(eq(users.id, userId));
    return { previousKey: current.avatarKey };
  });
}
