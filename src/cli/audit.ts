import type { DbOrTx } from '../platform/db.ts';
import { verifyAuditChain } from '../modules/identity/index.ts';

/**
 * `lectern audit verify`: walks the audit log's hash chain. Returns the line to print when it is
 * intact; throws (main prints `lectern: …` and exits 1) naming the first broken row otherwise.
 */
export async function auditCommand(db: DbOrTx, args: string[]): Promise<string> {
  const [sub, ...rest] = args;
  if (sub !== 'verify' || rest.length > 0) {
    const given = args.length ? ` "${args.join(' ')}"` : '';
    throw new Error(`unknown audit command${given}; use: lectern audit verify`);
  }
  const report = await verifyAuditChain(db);
  if (!report.ok) throw new Error(`audit chain broken at row ${report.firstBrokenId}: ${report.reason}`);
  return `Audit chain intact: ${report.checked} rows checked.`;
}
