import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { BadGateway, Conflict, NotFound, ServiceUnavailable } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';

/** Currencies Paystack settles (and that Lectern prices in); initialize refuses the others. */
export const PAYSTACK_CURRENCIES = ['NGN', 'GHS', 'KES', 'USD', 'ZAR'] as const;

/** A Paystack transaction as the verify API and `charge.*` webhooks describe it. */
export const paystackTransactionSchema = z.looseObject({
  id: z.number().int(),
  /** success | failed | abandoned | ongoing | pending | processing | queued | reversed */
  status: z.string(),
  reference: z.string(),
  /** Minor units (kobo for NGN). */
  amount: z.number().int(),
  currency: z.string(),
  paid_at: z.string().nullable().optional(),
  gateway_response: z.string().nullable().optional(),
});

export interface PaystackTransaction {
  id: number;
  status: string;
  reference: string;
  amountMinor: number;
  currency: string;
  paidAt: Date | null;
  gatewayResponse: string | null;
}

export interface InitializeInput {
  /** Our transaction id, used as the Paystack reference. */
  reference: string;
  amountMinor: number;
  currency: string;
  email: string;
  /** Where the hosted checkout sends the payer back to (default: config's callback URL). */
  callbackUrl?: string;
  metadata: Record<string, unknown>;
}

const answerSchema = z.looseObject({
  status: z.boolean(),
  message: z.string().optional(),
  data: z.unknown().optional(),
});

const initializeData = z.looseObject({
  authorization_url: z.url(),
  access_code: z.string().min(1),
  reference: z.string(),
});

const refundData = z.looseObject({ id: z.union([z.number(), z.string()]) });

/** The hex HMAC-SHA512 of a raw body with the secret key: Paystack's `x-paystack-signature`. */
export function paystackSignature(rawBody: Buffer | string, secretKey: string): string {
  return createHmac('sha512', secretKey).update(rawBody).digest('hex');
}

/** Whether `signature` is the body's HMAC with the secret key (constant-time comparison). */
export function isValidPaystackSignature(
  rawBody: Buffer,
  signature: string | undefined,
  secretKey: string | null,
): boolean {
  if (!secretKey || !signature || !/^[0-9a-f]{128}$/i.test(signature)) return false;
  const expected = Buffer.from(paystackSignature(rawBody, secretKey), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

class PaystackRefusal extends Error {
  constructor(
    readonly httpStatus: number,
    readonly paystackMessage: string,
  ) {
    super(`Paystack answered ${httpStatus}: ${paystackMessage}`);
  }
}

export interface PaystackClientOptions {
  secretKey: string | null;
  /** Resolved at call time: the simulator's address is known only once the server listens. */
  baseUrl: () => string | null;
  defaultCallbackUrl: string;
  logger: Logger;
  timeoutMs?: number;
}

/**
 * The adapter for Paystack's REST API (also spoken by the built-in simulator). Every failure of
 * the gateway — unreachable, timed out, refused, answered nonsense — is a 502 `BadGateway` for our
 * callers, except the few answers that mean something to them (unknown reference, already refunded).
 */
export function createPaystackClient(options: PaystackClientOptions) {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function call<T>(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    dataSchema: z.ZodType<T>,
  ): Promise<T> {
    const base = options.baseUrl();
    if (!base || !options.secretKey) throw new ServiceUnavailable('Paystack payments are not configured');
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.secretKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const { name, message } = err as Error;
      logger.warn({ err: { name, message }, operation }, 'Paystack is unreachable');
      throw new BadGateway('The payment gateway is unreachable, try again later');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const answer = answerSchema.safeParse(json);
    if (status >= 200 && status < 300 && answer.success && answer.data.status) {
      const data = dataSchema.safeParse(answer.data.data);
      if (data.success) return data.data;
      logger.error({ operation, status, issues: data.error.issues }, 'unexpected answer from Paystack');
      throw new BadGateway('The payment gateway gave an unexpected answer');
    }
    const message = (answer.success ? answer.data.message : undefined) ?? `HTTP ${status}`;
    if (status === 401) logger.error({ operation }, 'Paystack refused our secret key');
    else logger.warn({ operation, status, paystackMessage: message }, 'Paystack refused a request');
    throw new PaystackRefusal(status, message.slice(0, 200));
  }

  const toBadGateway = (err: unknown): never => {
    if (err instanceof PaystackRefusal) {
      throw new BadGateway(
        err.httpStatus === 401 || err.httpStatus >= 500
          ? 'The payment gateway refused the request, try again later'
          : `The payment gateway refused the request: ${err.paystackMessage}`,
      );
    }
    throw err;
  };

  return {
    /** Starts a hosted checkout: POST /transaction/initialize. */
    async initialize(input: InitializeInput): Promise<{ accessCode: string; authorizationUrl: string }> {
      const data = await call(
        'initialize',
        'POST',
        '/transaction/initialize',
        {
          email: input.email,
          amount: input.amountMinor,
          currency: input.currency,
          reference: input.reference,
          callback_url: input.callbackUrl ?? options.defaultCallbackUrl,
          metadata: input.metadata,
        },
        initializeData,
      ).catch(toBadGateway);
      return { accessCode: data.access_code, authorizationUrl: data.authorization_url };
    },

    /** The transaction's state at Paystack: GET /transaction/verify/:reference (404 when unknown). */
    async verify(reference: string): Promise<PaystackTransaction> {
      const data = await call(
        'verify',
        'GET',
        `/transaction/verify/${encodeURIComponent(reference)}`,
        undefined,
        paystackTransactionSchema,
      ).catch((err: unknown) => {
        if (err instanceof PaystackRefusal && (err.httpStatus === 400 || err.httpStatus === 404)) {
          if (/not found/i.test(err.paystackMessage)) throw new NotFound('Unknown Paystack transaction');
        }
        return toBadGateway(err);
      });
      return {
        id: data.id,
        status: data.status,
        reference: data.reference,
        amountMinor: data.amount,
        currency: data.currency,
        paidAt: data.paid_at ? new Date(data.paid_at) : null,
        gatewayResponse: data.gateway_response ?? null,
      };
    },

    /**
     * Gives a captured charge back: POST /refund. A charge refunded before (e.g. by an earlier
     * attempt that crashed before recording it) is 409 `Conflict`.
     */
    async refund(input: { reference: string; amountMinor: number }): Promise<{ refundId: string }> {
      const data = await call(
        'refund',
        'POST',
        '/refund',
        { transaction: input.reference, amount: input.amountMinor },
        refundData,
      ).catch((err: unknown) => {
        if (err instanceof PaystackRefusal && /fully (reversed|refunded)/i.test(err.paystackMessage)) {
          throw new Conflict('The Paystack charge has already been refunded');
        }
        return toBadGateway(err);
      });
      return { refundId: String(data.id) };
    },
  };
}
export type PaystackClient = ReturnType<typeof createPaystackClient>;
