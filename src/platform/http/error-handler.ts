import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  type ResponseSerializationError,
} from 'fastify-type-provider-zod';
import { AppError, type ErrorDetail } from '../errors.ts';
import { errorBody } from './envelope.ts';

const fastifyCodes: Record<string, { status: number; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, message: 'Unsupported media type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, message: 'Invalid Content-Length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: 'Request body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: 'Request body is not valid JSON' },
};

function send(reply: FastifyReply, status: number, message: string, details?: ErrorDetail[]) {
  return reply
    .status(status)
    .type('application/json; charset=utf-8')
    .send(errorBody(status, message, details));
}

function zodDetails(error: FastifyError): ErrorDetail[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((v) => ({
    field: [context, ...(v.instancePath ?? '').split('/').filter(Boolean)].join('.'),
    message: v.message ?? 'Invalid value',
  }));
}

/** Maps every error to seed 002's envelope; 5xx answers never carry internals. */
export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      if (error.headers) reply.headers(error.headers);
      if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed');
      return send(reply, error.statusCode, error.message, error.details);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      return send(reply, 400, 'Invalid input data', zodDetails(error));
    }
    if (error.code === 'FST_ERR_RESPONSE_SERIALIZATION') {
      const issues = (error as unknown as ResponseSerializationError).cause?.issues;
      request.log.error({ err: error, issues }, 'response did not match its schema');
      return send(reply, 500, 'Server error occurred');
    }
    const known = error.code ? fastifyCodes[error.code] : undefined;
    if (known) return send(reply, known.status, known.message);
    if (error.statusCode === 429) {
      return send(reply, 429, error.message || 'Too many requests, try again later');
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, error.statusCode, error.message || 'Bad request');
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(reply, 500, 'Server error occurred');
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, 404, `Route ${request.method} ${request.url.split('?')[0]} not found`),
  );
}
