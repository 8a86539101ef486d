import { and, count, eq, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { mfaRecoveryCodes, mfaTotp } from './identity.tables.ts';

export type TotpRow = typeof mfaTotp.$inferSelect;

export async function findTotp(db: DbOrTx, userId: number): Promise<TotpRow | undefined> {
  const [row] = await db.select().from(mfaTotp).where(eq(mfaTotp.userId, userId));
  return row;
}

/** Whether the user has a confirmed (enabled) authenticator. */
export async function hasEnabledTotp(db: DbOrTx, userId: number): Promise<boolean> {
  const [row] = await db
    .select({ userId: mfaTotp.userId })
    .from(mfaTotp)
    .where(and(eq(mfaTotp.userId, userId), isNotNull(mfaTotp.enabledAt)));
  return Boolean(row);
}

/**
 * Stores a pending (not yet enabled) authenticator, replacing an earlier pending one. Never
 * touches an enabled authenticator: returns false then, also when an enable raced ahead.
 */
export async function upsertPendingTotp(
  db: DbOrTx,
  userId: number,
  secretEncrypted: string,
): Promise<boolean> {
  const rows = await db
    .insert(mfaTotp)
    .values({ userId, secretEncrypted })
    .onConflictDoUpdate({
      target: mfaTotp.userId,
      set: { secretEncrypted, enabledAt: null, lastUsedStep: null, createdAt: sql`now()` },
      setWhere: isNull(mfaTotp.enabledAt),
    })
    .returning({ userId: mfaTotp.userId });
  return rows.length > 0;
}

/** Enables a pending authenticator with the time step of its first code; false if not pending. */
export async function enableTotp(db: DbOrTx, userId: number, step: number): Promise<boolean> {
  const rows = await db
    .update(mfaTotp)
    .set({ enabledAt: sql`now()`, lastUsedStep: step })
    .where(and(eq(mfaTotp.userId, userId), isNull(mfaTotp.enabledAt)))
    .returning({ userId: mfaTotp.userId });
  return rows.length > 0;
}

/**
 * Records `step` as the last accepted time step of an enabled authenticator, only if it is newer
 * than the stored one. Atomic: of two requests with one code, exactly one gets `true`.
 */
export async function advanceTotpStep(db: DbOrTx, userId: number, step: number): Promise<boolean> {
  const rows = await db
    .update(mfaTotp)
    .set({ lastUsedStep: step })
    .where(
      and(
        eq(mfaTotp.userId, userId),
        isNotNull(mfaTotp.enabledAt),
        or(isNull(mfaTotp.lastUsedStep), lt(mfaTotp.lastUsedStep, step)),
      ),
    )
    .returning({ userId: mfaTotp.userId });
  return rows.length > 0;
}

export async function deleteTotp(db: DbOrTx, userId: number): Promise<boolean> {
  const rows = await db
    .delete(mfaTotp)
    .where(eq(mfaTotp.userId, userId))
    .returning({ userId: mfaTotp.userId });
  return rows.length > 0;
}

/** Replaces all of a user's recovery codes (used or not) with new hashes. */
export async function replaceRecoveryCodes(db: DbOrTx, userId: number, codeHashes: string[]): Promise<void> {
  await db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId));
  if (codeHashes.length) {
    await db.insert(mfaRecoveryCodes).values(codeHashes.map((codeHash) => ({ userId, codeHash })));
  }
}

export async function deleteRecoveryCodes(db: DbOrTx, userId: number): Promise<void> {
  await db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId));
}

/** Marks an unused recovery code used. Atomic: of concurrent uses of one code exactly one gets `true`. */
export async function useRecoveryCode(db: DbOrTx, userId: number, codeHash: string): Promise<boolean> {
  const [row] = await db
    .update(mfaRecoveryCodes)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(mfaRecoveryCodes.userId, userId),
        eq(mfaRecoveryCodes.codeHash, codeHash),
        isNull(mfaRecoveryCodes.usedAt),
      ),
    )
    .returning({ id: mfaRecoveryCodes.id });
  return Boolean(row);
}

/** Whether an unused recovery code with this hash exists (a read-only check before the atomic use). */
export async function recoveryCodeExists(db: DbOrTx, userId: number, codeHash: string): Promise<boolean> {
  const [row] = await db
    .select({ id: mfaRecoveryCodes.id })
    .from(mfaRecoveryCodes)
    .where(
      and(
        eq(mfaRecoveryCodes.userId, userId),
        eq(mfaRecoveryCodes.codeHash, codeHash),
        isNull(mfaRecoveryCodes.usedAt),
      ),
    );
  return Boolean(row);
}

export async function countUnusedRecoveryCodes(db: DbOrTx, userId: number): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(mfaRecoveryCodes)
    .where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt)));
  return Number(row?.n ?? 0);
}
