import type { Sealer } from '../../platform/crypto.ts';
import type { Db } from '../../platform/db.ts';
import { Conflict, NotFound } from '../../platform/errors.ts';
import type { IdentityApi } from '../identity/index.ts';
import { currencyExponent, toMajor, toMinor } from './commerce.money.ts';
import {
  generateVoucherCode,
  groupCode,
  hashVoucherCode,
  maskedCode,
  normaliseVoucherCode,
  voucherHint,
} from './commerce.vouchers.codes.ts';
import * as repo from './commerce.vouchers.repository.ts';
import type {
  CreateVouchersInput,
  ListBatchesQuery,
  ListVouchersQuery,
} from './commerce.vouchers.schemas.ts';
import { pageOf } from '../../platform/http/pagination.ts';

export interface VoucherAdminDeps {
  db: Db;
  sealer: Sealer;
  identity: Pick<IdentityApi, 'audit'>;
}

/** Who performs an admin action, for the audit log. */
export interface Actor {
  userId: number;
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const toBatch = (b: repo.BatchRow) => ({
  id: b.id,
  count: b.count,
  amount: toMajor(b.amountMinor, b.currency),
  currency: b.currency,
  expiresAt: iso(b.expiresAt),
  description: b.description,
  createdBy: b.createdBy,
  createdAt: b.createdAt.toISOString(),
});

export const toVoucherItem = (v: repo.VoucherRow) => ({
  id: v.id,
  batchId: v.batchId,
  codeHint: v.codeHint,
  maskedCode: maskedCode(v.codeHint),
  amount: toMajor(v.amountMinor, v.currency),
  currency: v.currency,
  status: v.effectiveStatus,
  expiresAt: iso(v.expiresAt),
  redeemedBy: v.redeemedBy,
  redeemedAt: iso(v.redeemedAt),
  disabledAt: iso(v.disabledAt),
  createdAt: v.createdAt.toISOString(),
});

/** Minor units as an exact decimal string (`500000` → `5000.00`), for the CSV. */
function decimalText(minor: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  return `${minor < 0 ? '-' : ''}${whole}${exponent ? `.${digits.slice(-exponent)}` : ''}`;
}

/** CSV cells here are codes, numbers, enums and timestamps; quoting is still applied defensively. */
const csvCell = (value: string | number | null) => {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

export const CSV_COLUMNS = [
  'code',
  'amount',
  'currency',
  'status',
  'expiresAt',
  'redeemedAt',
  'redeemedBy',
] as const;

/** Admin management of prepaid wallet vouchers: batches of codes, listing, CSV export, disabling. */
export function createVoucherAdmin({ db, sealer, identity }: VoucherAdminDeps) {
  const audit = (actor: Actor, action: string, detail: Record<string, unknown>) =>
    identity.audit({
      action,
      actorId: actor.userId,
      ip: actor.ip,
      userAgent: actor.userAgent,
      requestId: actor.requestId,
      success: true,
      detail: JSON.stringify(detail),
    });

  async function requireBatch(id: number) {
    const batch = await repo.findBatch(db, id);
    if (!batch) throw new NotFound('Voucher batch not found');
    return batch;
  }

  return {
    /**
     * Creates `count` codes in one transaction. The plain codes are returned once; the database
     * keeps each code's hash (for redemption) and an AES-GCM sealed copy (for the CSV export).
     */
    async createBatch(actor: Actor, input: CreateVouchersInput) {
      const amountMinor = toMinor(input.amount, input.currency);
      const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
      const codes = Array.from({ length: input.count }, generateVoucherCode);
      const result = await db.transaction(async (tx) => {
        const batch = await repo.insertBatch(tx, {
          count: input.count,
          amountMinor,
          currency: input.currency,
          expiresAt,
          description: input.description ?? null,
          createdBy: actor.userId,
        });
        const byHash = new Map<string, string>();
        const rows = codes.map((code) => {
          const normalised = normaliseVoucherCode(code)!;
          const codeHash = hashVoucherCode(normalised);
          byHash.set(codeHash, code);
          return {
            batchId: batch.id,
            codeHash,
            codeSealed: sealer.seal(normalised),
            codeHint: voucherHint(normalised),
            amountMinor,
            currency: input.currency,
            expiresAt,
          };
        });
        const inserted = await repo.insertVouchers(tx, rows);
        const created = inserted
          .map((r) => ({ id: r.id, code: byHash.get(r.codeHash)! }))
          .sort((a, b) => a.id - b.id);
        return { batch: toBatch(batch), codes: created };
      });
      await audit(actor, 'commerce.voucher.batch_created', {
        batchId: result.batch.id,
        count: input.count,
        amountMinor,
        currency: input.currency,
      });
      return result;
    },

    async listBatches(query: ListBatchesQuery) {
      const rows = await repo.listBatches(db, { beforeId: query.cursor, limit: query.limit + 1 });
      return pageOf(rows, query.limit, (r) => ({
        ...toBatch(r),
        counts: { active: r.active, redeemed: r.redeemed, disabled: r.disabled, expired: r.expired },
      }));
    },

    async listVouchers(query: ListVouchersQuery) {
      const rows = await repo.listVouchers(db, {
        batchId: query.batchId,
        status: query.status,
        beforeId: query.cursor,
        limit: query.limit + 1,
      });
      return pageOf(rows, query.limit, toVoucherItem);
    },

    /** The batch as CSV with the plain codes (unsealed here); the export itself is audited. */
    async exportBatch(actor: Actor, batchId: number) {
      await requireBatch(batchId);
      const rows = await repo.listBatchVouchers(db, batchId);
      const lines = [CSV_COLUMNS.join(',')];
      for (const v of rows) {
        lines.push(
          [
            groupCode(sealer.open(v.codeSealed)),
            decimalText(v.amountMinor, v.currency),
            v.currency,
            v.effectiveStatus,
            iso(v.expiresAt),
            iso(v.redeemedAt),
            v.redeemedBy,
          ]
            .map(csvCell)
            .join(','),
        );
      }
      await audit(actor, 'commerce.voucher.batch_exported', { batchId, count: rows.length });
      return { filename: `voucher-batch-${batchId}.csv`, csv: `${lines.join('\r\n')}\r\n` };
    },

    /** Disables one voucher. Already disabled: no change; redeemed: 409 (the money is spent). */
    async disableVoucher(actor: Actor, id: number) {
      const changed = await repo.disableVoucher(db, id);
      const voucher = await repo.findVoucher(db, id);
      if (!voucher) throw new NotFound('Voucher not found');
      if (!changed && voucher.status === 'redeemed') {
        throw new Conflict('This voucher was already redeemed and cannot be disabled');
      }
      if (changed)
        await audit(actor, 'commerce.voucher.disabled', { voucherId: id, batchId: voucher.batchId });
      return toVoucherItem(voucher);
    },

    /** Disables every still-active voucher of a batch; redeemed ones stay redeemed. */
    async disableBatch(actor: Actor, batchId: number) {
      await requireBatch(batchId);
      const disabled = await repo.disableBatch(db, batchId);
      await audit(actor, 'commerce.voucher.batch_disabled', { batchId, disabled });
      return { batchId, disabled };
    },
  };
}
export type VoucherAdmin = ReturnType<typeof createVoucherAdmin>;
