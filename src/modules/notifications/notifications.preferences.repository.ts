import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { preferences, userSettings } from './notifications.tables.ts';

export type PreferenceRow = typeof preferences.$inferSelect;
export type Category = PreferenceRow['category'];
export type PreferenceChannel = PreferenceRow['channel'];
export type UserSettingsRow = typeof userSettings.$inferSelect;

/** The rows a user has set; categories and channels without a row use the defaults. */
export async function listPreferences(db: DbOrTx, userId: number): Promise<PreferenceRow[]> {
  return db.select().from(preferences).where(eq(preferences.userId, userId));
}

/** Sets each given (category, channel) switch, creating or replacing its row. */
export async function upsertPreferences(
  tx: Tx,
  userId: number,
  values: Array<{ category: Category; channel: PreferenceChannel; enabled: boolean }>,
): Promise<void> {
  if (values.length === 0) return;
  const now = new Date();
  await tx
    .insert(preferences)
    .values(values.map((v) => ({ ...v, userId, updatedAt: now })))
    .onConflictDoUpdate({
      target: [preferences.userId, preferences.category, preferences.channel],
      set: { enabled: sql`excluded.enabled`, updatedAt: now },
    });
}

export async function findSettings(db: DbOrTx, userId: number): Promise<UserSettingsRow | undefined> {
  const [row] = await db.select().from(userSettings).where(eq(userSettings.userId, userId));
  return row;
}

export async function upsertSettings(tx: DbOrTx, userId: number, dailyDigest: boolean): Promise<void> {
  const now = new Date();
  await tx
    .insert(userSettings)
    .values({ userId, dailyDigest, updatedAt: now })
    .onConflictDoUpdate({ target: userSettings.userId, set: { dailyDigest, updatedAt: now } });
}

/** Users with the daily digest on, in id order after `afterUserId` (one page of the digest job). */
export async function listDigestSubscribers(
  db: DbOrTx,
  afterUserId: number,
  limit: number,
): Promise<UserSettingsRow[]> {
  return db
    .select()
    .from(userSettings)
    .where(and(eq(userSettings.dailyDigest, true), gt(userSettings.userId, afterUserId)))
    .orderBy(asc(userSettings.userId))
    .limit(limit);
}

/**
 * Claims today's digest for a user: moves `last_digest_at` to `now` unless a digest was already
 * sent since `dayStart`. Returns the previous value (the digest covers what came after it), or
 * `false` when another run got there first.
 */
export async function claimDigest(
  tx: Tx,
  userId: number,
  dayStart: Date,
  now: Date,
): Promise<{ previous: Date | null } | false> {
  const [current] = await tx.select().from(userSettings).where(eq(userSettings.userId, userId)).for('update');
  if (!current?.dailyDigest) return false;
  if (current.lastDigestAt && current.lastDigestAt >= dayStart) return false;
  await tx.update(userSettings).set({ lastDigestAt: now }).where(eq(userSettings.userId, userId));
  return { previous: current.lastDigestAt };
}

export async function deleteUserPreferences(tx: Tx, userId: number): Promise<void> {
  await tx.delete(preferences).where(eq(preferences.userId, userId));
  await tx.delete(userSettings).where(eq(userSettings.userId, userId));
}
