import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  batchPage,
  createdBatch,
  createVouchersBody,
  csvExport,
  disabledBatch,
  idParams,
  listBatchesQuery,
  listVouchersQuery,
  MAX_BATCH,
  voucherItem,
  voucherPage,
} from './commerce.vouchers.schemas.ts';
import type { VoucherAdmin } from './commerce.vouchers.service.ts';
import { actorOf } from './commerce.wallet.routes.ts';

/** Admin management of wallet vouchers (seed 004's voucher management). */
export function voucherAdminRoutes(vouchers: VoucherAdmin) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: [guard.authenticate, guard.requireRole('admin')] };

    r.post(
      '/admin/vouchers',
      {
        ...admin,
        schema: {
          operationId: 'createVoucherBatch',
          tags: ['vouchers'],
          summary: 'Create a batch of voucher codes (admin)',
          description: `Creates \`count\` (1–${MAX_BATCH}) wallet top-up codes of \`amount\` (major units) in \`currency\`, optionally expiring at \`expiresAt\`. Each code carries 140 random bits, written as 28 Crockford base32 symbols in groups of four. The plain codes are in this answer and in the batch CSV export only.`,
          security: bearerSecurity,
          body: createVouchersBody,
          response: responses({ status: 201, data: createdBatch }, [401, 403]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await vouchers.createBatch(actorOf(request), request.body));
      },
    );

    r.get(
      '/admin/vouchers',
      {
        ...admin,
        schema: {
          operationId: 'listVouchers',
          tags: ['vouchers'],
          summary: 'List vouchers, codes masked (admin)',
          description:
            'Newest first, optionally one batch and one status (`expired` = active but past its expiry). Codes are masked: only their last group (`codeHint`) is shown.',
          security: bearerSecurity,
          querystring: listVouchersQuery,
          response: responses({ data: voucherPage }, [401, 403]),
        },
      },
      async (request) => successBody(await vouchers.listVouchers(request.query)),
    );

    r.get(
      '/admin/vouchers/batches',
      {
        ...admin,
        schema: {
          operationId: 'listVoucherBatches',
          tags: ['vouchers'],
          summary: 'List voucher batches with status counts (admin)',
          security: bearerSecurity,
          querystring: listBatchesQuery,
          response: responses({ data: batchPage }, [401, 403]),
        },
      },
      async (request) => successBody(await vouchers.listBatches(request.query)),
    );

    r.get(
      '/admin/vouchers/batches/:id/export',
      {
        ...admin,
        schema: {
          operationId: 'exportVoucherBatch',
          tags: ['vouchers'],
          summary: 'Export a batch with its plain codes as CSV (admin)',
          description:
            'A `text/csv` attachment, one row per voucher: `code,amount,currency,status,expiresAt,redeemedAt,redeemedBy`. Amounts are exact decimals in major units. Each export is recorded in the audit log.',
          security: bearerSecurity,
          params: idParams,
          response: {
            ...responses({ data: csvExport }, [401, 403, 404]),
            200: { description: 'The batch as CSV', content: { 'text/csv': { schema: csvExport } } },
          },
        },
      },
      async (request, reply) => {
        const { filename, csv } = await vouchers.exportBatch(actorOf(request), request.params.id);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${filename}"`)
          .header('cache-control', 'no-store')
          .send(csv);
      },
    );

    r.post(
      '/admin/vouchers/:id/disable',
      {
        ...admin,
        schema: {
          operationId: 'disableVoucher',
          tags: ['vouchers'],
          summary: 'Disable one voucher (admin)',
          description:
            'An active (or expired) voucher can no longer be redeemed. Disabling a disabled voucher changes nothing; a redeemed voucher cannot be disabled (409).',
          security: bearerSecurity,
          params: idParams,
          response: responses({ data: voucherItem }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await vouchers.disableVoucher(actorOf(request), request.params.id)),
    );

    r.post(
      '/admin/vouchers/batches/:id/disable',
      {
        ...admin,
        schema: {
          operationId: 'disableVoucherBatch',
          tags: ['vouchers'],
          summary: 'Disable every unused voucher of a batch (admin)',
          description:
            'Redeemed vouchers stay redeemed; `disabled` counts the codes this request switched off.',
          security: bearerSecurity,
          params: idParams,
          response: responses({ data: disabledBatch }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await vouchers.disableBatch(actorOf(request), request.params.id)),
    );
  };
}
