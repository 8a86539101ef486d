import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { ReceiptsService } from './commerce.receipts.service.ts';
import { orderParams } from './commerce.orders.schemas.ts';

const pdfFile = z.string().meta({
  format: 'binary',
  description:
    'A one-page PDF: order number, date, buyer, course, list price, discount, total, currency, payment method (card brand and last four), transaction id, and a REFUNDED mark once refunded',
});

/** The PDF receipt of a paid order. */
export function receiptRoutes(receipts: ReceiptsService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get(
      '/orders/:id/receipt',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'getOrderReceipt',
          tags: ['orders'],
          summary: 'Download the PDF receipt of an order',
          description:
            'The buyer and admins; 404 for anyone else and for orders that were never paid. Paid and refunded orders have a receipt (a refunded one is marked REFUNDED). The same PDF is emailed to the buyer when the payment succeeds.',
          security: bearerSecurity,
          params: orderParams,
          response: {
            ...responses({ data: pdfFile }, [401, 404]),
            200: { description: 'The receipt', content: { 'application/pdf': { schema: pdfFile } } },
          },
        },
      },
      async (request, reply) => {
        const { filename, pdf } = await receipts.render(principalOf(request), request.params.id);
        // The schema documents the body as a binary string; the untyped reply takes the bytes.
        const untyped: FastifyReply = reply;
        return untyped
          .type('application/pdf')
          .header('content-disposition', `inline; filename="${filename}"`)
          .header('cache-control', 'private, no-store')
          .send(pdf);
      },
    );
  };
}
