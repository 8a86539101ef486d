import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { userAccounts, users } from './identity.tables.ts';

export type LinkedAccountRow = typeof userAccounts.$inferSelect;

export async function findLinkedAccount(
  db: DbOrTx,
  provider: string,
  providerUserId: string,
): Promise<LinkedAccountRow | undefined> {
  const [row] = await db
    .select()
    .from(userAccounts)
    .where(and(eq(userAccounts.provider, provider), eq(userAccounts.providerUserId, providerUserId)));
  return row;
}

/**
 * Links a provider identity to a user. When the identity is already linked (a concurrent sign-in
 * won the race) nothing is inserted and the existing row is returned.
 */
export async function insertLinkedAccount(
  db: DbOrTx,
  values: {
    userId: number;
    provider: string;
    providerUserId: string;
    email: string | null;
    accessToken: string;
    refreshToken: string | null;
  },
): Promise<LinkedAccountRow> {
  const [row] = await db.insert(userAccounts).values(values).onConflictDoNothing().returning();
  return row ?? (await findLinkedAccount(db, values.provider, values.providerUserId))!;
}

/** Stores fresh (sealed) provider tokens; a missing refresh token keeps the previous one. */
export async function updateLinkedAccountTokens(
  db: DbOrTx,
  id: number,
  values: { email: string | null; accessToken: string; refreshToken: string | null },
): Promise<void> {
  await db
    .update(userAccounts)
    .set({
      email: values.email ?? sql`${userAccounts.email}`,
      accessToken: values.accessToken,
      refreshToken: values.refreshToken ?? sql`${userAccounts.refreshToken}`,
      updatedAt: sql`now()`,
    })
    .where(eq(userAccounts.id, id));
}

export async function listLinkedAccounts(db: DbOrTx, userId: number) {
  return db
    .select({
      provider: userAccounts.provider,
      email: userAccounts.email,
      createdAt: userAccounts.createdAt,
    })
    .from(userAccounts)
    .where(eq(userAccounts.userId, userId))
    .orderBy(userAccounts.provider, userAccounts.id);
}

/** Deletes the user's links to `provider`; returns how many there were. */
export async function deleteLinkedAccounts(db: DbOrTx, userId: number, provider: string): Promise<number> {
  const rows = await db
    .delete(userAccounts)
    .where(and(eq(userAccounts.userId, userId), eq(userAccounts.provider, provider)))
    .returning({ id: userAccounts.id });
  return rows.length;
}

/**
 * Locks the user row for the rest of the transaction and says whether it has a password, so two
 * concurrent unlinks cannot both see "another way to sign in" and leave none.
 */
export async function lockUserCredentials(
  db: DbOrTx,
  userId: number,
): Promise<{ hasPassword: boolean } | undefined> {
  const [row] = await db
    .select({ passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, userId))
    .for('update');
  return row && { hasPassword: row.passwordHash !== null };
}

/** Removes a password nobody proved to own (see the OAuth service's pre-hijack defence). */
export async function clearPasswordHash(db: DbOrTx, userId: number): Promise<void> {
  await db
    .update(users)
    .set({ passwordHash: null, passwordChangedAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(users.id, userId));
}
