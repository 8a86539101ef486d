/** A field-level problem reported in the error envelope's `details`. */
export interface ErrorDetail {
  field: string;
  message: string;
}

/** Base of every error a service may throw; the HTTP layer maps it to the envelope. */
export abstract class AppError extends Error {
  abstract readonly statusCode: number;
  readonly details?: ErrorDetail[];
  readonly headers?: Record<string, string>;

  constructor(message: string, options?: { details?: ErrorDetail[]; headers?: Record<string, string> }) {
    super(message);
    this.name = new.target.name;
    this.details = options?.details;
    this.headers = options?.headers;
  }
}

export class ValidationError extends AppError {
  readonly statusCode = 400;
  constructor(message = 'Invalid input data', details?: ErrorDetail[]) {
    super(message, { details });
  }
}
export class Unauthorized extends AppError {
  readonly statusCode = 401;
  constructor(message = 'Authentication required') {
    super(message, { headers: { 'www-authenticate': 'Bearer' } });
  }
}
export class PaymentRequired extends AppError {
  readonly statusCode = 402;
}
export class Forbidden extends AppError {
  readonly statusCode = 403;
  constructor(message = 'Access denied') {
    super(message);
  }
}
export class NotFound extends AppError {
  readonly statusCode = 404;
  constructor(message = 'Not found') {
    super(message);
  }
}
export class Conflict extends AppError {
  readonly statusCode = 409;
}
/**
 * 409 for a clash with another request or task that is still running (a concurrent checkout, a
 * refund being processed): not an outcome, so it carries `Retry-After` and an `Idempotency-Key`
 * does not keep it (a retry with the same key runs again, as Stripe does for concurrent requests).
 */
export class InProgress extends AppError {
  readonly statusCode = 409;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message, { headers: { 'retry-after': String(retryAfterSeconds) } });
  }
}
export class UnprocessableEntity extends AppError {
  readonly statusCode = 422;
}
export class PayloadTooLarge extends AppError {
  readonly statusCode = 413;
  constructor(message = 'Payload too large') {
    super(message);
  }
}
export class UnsupportedMediaType extends AppError {
  readonly statusCode = 415;
  constructor(message = 'Unsupported media type') {
    super(message);
  }
}
export class RangeNotSatisfiable extends AppError {
  readonly statusCode = 416;
  constructor(size: number) {
    super('Requested range not satisfiable', { headers: { 'content-range': `bytes */${size}` } });
  }
}
export class TooManyRequests extends AppError {
  readonly statusCode = 429;
  constructor(retryAfterSeconds: number, message = 'Too many requests, try again later') {
    super(message, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}
export class BadGateway extends AppError {
  readonly statusCode = 502;
}
export class ServiceUnavailable extends AppError {
  readonly statusCode = 503;
}
