import { z } from 'zod';
import { currencySchema, majorAmountSchema } from './commerce.money.ts';
import { idCursor, pageInfo, pageLimit } from '../../platform/http/pagination.ts';
import { idSchema } from './commerce.wallet.schemas.ts';

const MAX_INT = 2_147_483_647;

/** A coupon code as typed by a buyer: trimmed and upper-cased (codes are case-insensitive). */
export const couponCodeInput = z
  .string()
  .trim()
  .min(1, 'Required')
  .max(40)
  .transform((s) => s.toUpperCase())
  .meta({ example: 'LAUNCH20' });

/** A new coupon's code: 3–40 letters, digits, `-` or `_`, stored upper-case. */
const newCouponCode = z
  .string()
  .trim()
  .min(3)
  .max(40)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'Letters, digits, - and _ only, starting with a letter or digit')
  .transform((s) => s.toUpperCase())
  .meta({ example: 'LAUNCH20' });

const dateTime = z.iso
  .datetime({ offset: true, error: 'An ISO 8601 date-time such as 2026-01-31T23:59:59Z' })
  .transform((s) => new Date(s));

const entityId = z.number().int().positive().max(MAX_INT);

export const couponParams = z.strictObject({ id: idSchema });

export const createCouponBody = z
  .strictObject({
    code: newCouponCode,
    kind: z
      .enum(['percent', 'fixed'])
      .meta({ description: '`percent` off the price, or a `fixed` amount off' }),
    percentOff: z.number().int().min(1).max(100).optional().meta({ description: 'For `percent`: 1–100' }),
    amountOff: majorAmountSchema.optional().meta({ description: 'For `fixed`: major units, e.g. 1000' }),
    currency: currencySchema.optional().meta({ description: 'For `fixed`: the currency of `amountOff`' }),
    courseId: entityId
      .optional()
      .meta({ description: 'The course it applies to; omitted for site-wide (admins only)' }),
    startsAt: dateTime.optional(),
    endsAt: dateTime.optional(),
    maxRedemptions: z
      .number()
      .int()
      .min(1)
      .max(MAX_INT)
      .optional()
      .meta({ description: 'Total uses; no limit when omitted' }),
    perUserLimit: z.number().int().min(1).max(1000).default(1),
    active: z.boolean().default(true),
  })
  .superRefine((body, ctx) => {
    const needs = (field: 'percentOff' | 'amountOff' | 'currency', present: boolean, message: string) => {
      if (present) ctx.addIssue({ code: 'custom', path: [field], message });
    };
    if (body.kind === 'percent') {
      needs('percentOff', body.percentOff === undefined, 'Required for a percent coupon');
      needs('amountOff', body.amountOff !== undefined, 'Only for a fixed coupon');
      needs('currency', body.currency !== undefined, 'Only for a fixed coupon');
    } else {
      needs('amountOff', body.amountOff === undefined, 'Required for a fixed coupon');
      needs('currency', body.currency === undefined, 'Required for a fixed coupon');
      needs('percentOff', body.percentOff !== undefined, 'Only for a percent coupon');
    }
    if (body.startsAt && body.endsAt && body.endsAt <= body.startsAt) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'Must be after startsAt' });
    }
  });
export type CreateCouponInput = z.output<typeof createCouponBody>;

export const updateCouponBody = z
  .strictObject({
    active: z.boolean().optional(),
    startsAt: dateTime.nullable().optional().meta({ description: 'null removes the start' }),
    endsAt: dateTime.nullable().optional().meta({ description: 'null removes the end' }),
    maxRedemptions: z
      .number()
      .int()
      .min(1)
      .max(MAX_INT)
      .nullable()
      .optional()
      .meta({ description: 'null removes the limit' }),
    perUserLimit: z.number().int().min(1).max(1000).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'Give at least one field to change');
export type UpdateCouponInput = z.output<typeof updateCouponBody>;

export const listCouponsQuery = z.strictObject({
  courseId: idSchema.optional(),
  limit: pageLimit,
  cursor: idCursor,
});
export type ListCouponsQuery = z.output<typeof listCouponsQuery>;

export const validateCouponBody = z.strictObject({
  code: couponCodeInput,
  courseId: entityId,
});

export const coupon = z
  .object({
    couponId: z.number().int(),
    code: z.string().meta({ example: 'LAUNCH20' }),
    kind: z.enum(['percent', 'fixed']),
    percentOff: z.number().int().nullable(),
    amountOff: z.number().nullable().meta({ description: 'Major units (fixed coupons)' }),
    currency: z.string().nullable(),
    courseId: z.number().int().nullable().meta({ description: 'null: every course' }),
    startsAt: z.string().nullable(),
    endsAt: z.string().nullable(),
    maxRedemptions: z.number().int().nullable(),
    perUserLimit: z.number().int(),
    active: z.boolean(),
    redemptions: z
      .number()
      .int()
      .meta({ description: 'Uses so far, including those reserved by unpaid orders' }),
    createdBy: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Coupon' });

export const couponPage = z.object({ items: z.array(coupon), pageInfo });

export const couponValidation = z.object({
  valid: z.boolean(),
  code: z.string(),
  courseId: z.number().int(),
  listPrice: z.number().meta({ example: 5000, description: 'The course price, major units' }),
  discount: z.number().meta({ example: 1000, description: 'Major units; 0 when not valid' }),
  amount: z.number().meta({ example: 4000, description: 'What the buyer would pay with this coupon' }),
  currency: z.string().meta({ example: 'NGN' }),
  reason: z.string().optional().meta({ example: 'Coupon has expired', description: 'Why it is not valid' }),
});
