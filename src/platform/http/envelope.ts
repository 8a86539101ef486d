import { z } from 'zod';
import type { ErrorDetail } from '../errors.ts';

/** Seed 002's success envelope around a route's data schema. */
export function envelope<T extends z.ZodType>(data: T) {
  return z.object({
    status: z.literal('success'),
    data,
    timestamp: z.string().meta({ example: '2025-07-28T18:07:00Z' }),
  });
}

export const errorDetailSchema = z.object({
  field: z.string().meta({ example: 'email' }),
  message: z.string().meta({ example: 'Invalid email address' }),
});

export const errorEnvelopeSchema = z
  .object({
    status: z.literal('error'),
    data: z.null(),
    error: z.object({
      errorCode: z.number().int().meta({ example: 400 }),
      message: z.string().meta({ example: 'Invalid input data' }),
      details: z.array(errorDetailSchema).optional(),
    }),
    timestamp: z.string(),
  })
  .meta({ id: 'ErrorEnvelope' });

export function successBody<T>(data: T) {
  return { status: 'success' as const, data, timestamp: new Date().toISOString() };
}

export function errorBody(errorCode: number, message: string, details?: ErrorDetail[]) {
  return {
    status: 'error' as const,
    data: null,
    error: { errorCode, message, ...(details?.length ? { details } : {}) },
    timestamp: new Date().toISOString(),
  };
}

const defaultErrorStatuses = [400, 429, 500] as const;

/**
 * Response schemas for a route: the success envelope for `ok` plus the error envelope for every
 * listed status and the statuses every route can answer (400, 429, 500).
 */
export function responses<T extends z.ZodType>(
  ok: { status?: 200 | 201 | 202; data: T },
  errorStatuses: number[] = [],
): Record<number, z.ZodType> {
  const out: Record<number, z.ZodType> = { [ok.status ?? 200]: envelope(ok.data) };
  for (const s of new Set([...defaultErrorStatuses, ...errorStatuses])) out[s] = errorEnvelopeSchema;
  return out;
}

// A missing field reads "Required" in error details rather than zod's type-mismatch wording.
z.config({
  customError: (issue) =>
    issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined,
});
