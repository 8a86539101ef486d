import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  coupon,
  couponPage,
  couponParams,
  couponValidation,
  createCouponBody,
  listCouponsQuery,
  updateCouponBody,
  validateCouponBody,
} from './commerce.coupons.schemas.ts';
import type { CouponsService } from './commerce.coupons.service.ts';

const tags = ['coupons'];

/** Coupon management (admins, instructors) and validation (any signed-in user). */
export function couponRoutes(coupons: CouponsService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const staff = { onRequest: [guard.authenticate, guard.requireRole('admin', 'instructor')] };

    r.post(
      '/coupons',
      {
        ...staff,
        schema: {
          operationId: 'createCoupon',
          tags,
          summary: 'Create a coupon',
          description:
            'Admins: site-wide (no `courseId`) or for any course. Instructors: only for a course they own or co-teach (`courseId` required; 403 otherwise). `percent` coupons take `percentOff` (1–100); `fixed` ones take `amountOff` and `currency` (the course currency). The code is stored upper-case; a code in use is 409.',
          security: bearerSecurity,
          body: createCouponBody,
          response: responses({ status: 201, data: coupon }, [401, 403, 404, 409]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await coupons.create(principalOf(request), request.body));
      },
    );

    r.get(
      '/coupons',
      {
        ...staff,
        schema: {
          operationId: 'listCoupons',
          tags,
          summary: 'List coupons',
          description: 'Admins see every coupon; instructors the coupons they created. Newest first.',
          security: bearerSecurity,
          querystring: listCouponsQuery,
          response: responses({ data: couponPage }, [401, 403]),
        },
      },
      async (request) => successBody(await coupons.list(principalOf(request), request.query)),
    );

    r.patch(
      '/coupons/:id',
      {
        ...staff,
        schema: {
          operationId: 'updateCoupon',
          tags,
          summary: 'Change or deactivate a coupon',
          description:
            'Admins, and the instructor who created it (404 for others). Changes the validity window, the limits or `active`; the code and the discount never change (create a new coupon instead). Uses already reserved or paid are kept.',
          security: bearerSecurity,
          params: couponParams,
          body: updateCouponBody,
          response: responses({ data: coupon }, [401, 403, 404]),
        },
      },
      async (request) =>
        successBody(await coupons.update(principalOf(request), request.params.id, request.body)),
    );

    r.post(
      '/coupons/validate',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'validateCoupon',
          tags,
          summary: 'Check a coupon against a course',
          description:
            'Any signed-in user. Answers what the caller would pay for the course with the code (`valid: false` with a `reason` when it does not apply: unknown, inactive, outside its window, another course or currency, limits reached). Nothing is reserved; the price is fixed at `POST /api/payments/initiate`. 404 when the course is not on sale.',
          security: bearerSecurity,
          body: validateCouponBody,
          response: responses({ data: couponValidation }, [401, 404]),
        },
      },
      async (request) => successBody(await coupons.validate(principalOf(request), request.body)),
    );
  };
}
