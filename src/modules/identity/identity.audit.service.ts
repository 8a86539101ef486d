import { sha256Hex } from '../../platform/crypto.ts';
import type { DbOrTx } from '../../platform/db.ts';
import * as adminRepo from './identity.admin.repository.ts';
import { encodeIdCursor } from '../../platform/http/pagination.ts';
import * as repo from './identity.repository.ts';

export interface AuditChainReport {
  ok: boolean;
  /** Rows examined, up to and including the first broken one. */
  checked: number;
  firstBrokenId: number | null;
  reason: string | null;
}

const BATCH_SIZE = 500;

/** Why `row` does not continue a chain whose last hash is `prevHash`, or null when it does. */
function chainProblem(prevHash: string | null, row: repo.AuditRow): string | null {
  if (!row.hash) return 'the row has no hash';
  if ((row.prevHash ?? null) !== prevHash) {
    return prevHash === null
      ? 'the first row does not start the chain (rows before it were deleted)'
      : 'its prev_hash does not match the hash of the row before it (a row was deleted or re-hashed)';
  }
  const input = repo.auditHashInput(prevHash, row);
  if (sha256Hex(input) !== row.hash) return 'its content does not match its hash (the row was modified)';
  return null;
}

/**
 * Walks the whole audit log in id order and checks every link of the hash chain: each row's
 * hash covers its content and its predecessor's hash, so an edited row fails its own check and a
 * deleted row breaks the link of the row after it. Truncating the newest rows is not detectable
 * from the chain alone.
 */
export async function verifyAuditChain(db: DbOrTx): Promise<AuditChainReport> {
  let prevHash: string | null = null;
  let afterId = 0;
  let checked = 0;
  for (;;) {
    const batch = await repo.listAuditBatch(db, afterId, BATCH_SIZE);
    for (const row of batch) {
      checked++;
      const reason = chainProblem(prevHash, row);
      if (reason) return { ok: false, checked, firstBrokenId: row.id, reason };
      prevHash = row.hash;
    }
    if (batch.length < BATCH_SIZE) return { ok: true, checked, firstBrokenId: null, reason: null };
    afterId = batch.at(-1)!.id;
  }
}

export interface AuditFilters {
  actorId?: number;
  subjectId?: number;
  action?: string;
  success?: boolean;
  from?: string;
  to?: string;
  limit: number;
  cursor?: number;
}

/** Reading the audit log: filtered pages for admins, and chain verification. */
export function createAuditService(deps: { db: DbOrTx }) {
  const { db } = deps;
  return {
    /** Audit rows newest first, one keyset page. */
    async list(filters: AuditFilters) {
      const rows = await adminRepo.listAuditPage(db, {
        actorId: filters.actorId,
        subjectId: filters.subjectId,
        action: filters.action,
        success: filters.success,
        from: filters.from === undefined ? undefined : new Date(filters.from),
        to: filters.to === undefined ? undefined : new Date(filters.to),
        limit: filters.limit,
        beforeId: filters.cursor,
      });
      const page = rows.slice(0, filters.limit);
      const hasMore = rows.length > filters.limit;
      return {
        items: page.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
        pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
      };
    },

    verify: () => verifyAuditChain(db),
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
