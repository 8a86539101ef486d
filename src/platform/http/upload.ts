import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, PayloadTooLarge, UnsupportedMediaType, ValidationError } from '../errors.ts';

export interface ImageType {
  ext: '.png' | '.jpg' | '.webp';
  contentType: 'image/png' | 'image/jpeg' | 'image/webp';
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The image type from a file's first bytes, or null. The client's filename and content type are
 * never consulted: they are whatever the client says, and the stored type decides how browsers
 * treat the file.
 */
export function sniffImageType(bytes: Buffer): ImageType | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    return { ext: '.png', contentType: 'image/png' };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return { ext: '.jpg', contentType: 'image/jpeg' };
  }
  if (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  ) {
    return { ext: '.webp', contentType: 'image/webp' };
  }
  return null;
}

// Room for the multipart boundaries and part headers around a full-size file.
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** Registers multipart parsing in the calling (encapsulated) plugin only, for one file of `maxBytes`. */
export async function registerSingleFileUploads(app: FastifyInstance, maxBytes: number) {
  await app.register(multipart, {
    limits: { fileSize: maxBytes, files: 1, fields: 5 },
    throwFileSizeLimit: true,
  });
}

export interface UploadSpec {
  /** The form field that must carry the file, e.g. `avatar`. */
  field: string;
  maxBytes: number;
  /** For messages: "The avatar must be at most 2 MB". */
  label: string;
}

/**
 * The bytes of the single file of a multipart request, within its size limit. Every failure is an
 * AppError: not multipart → 415, too large → 413, missing or misnamed file and malformed bodies → 400.
 */
export async function readSingleFileUpload(request: FastifyRequest, spec: UploadSpec): Promise<Buffer> {
  const fieldError = (message: string) =>
    new ValidationError('Invalid input data', [{ field: `body.${spec.field}`, message }]);
  const tooLarge = () =>
    new PayloadTooLarge(`The ${spec.label} must be at most ${Math.round(spec.maxBytes / 1024 / 1024)} MB`);
  if (!request.isMultipart()) {
    throw new UnsupportedMediaType(
      `Send the ${spec.label} as multipart/form-data with one file field named ${spec.field}`,
    );
  }
  // Refuses an announced oversize upload before reading it; chunked bodies are cut by the stream limit.
  if (Number(request.headers['content-length']) > spec.maxBytes + MULTIPART_OVERHEAD_BYTES) throw tooLarge();
  try {
    const part = await request.file();
    if (!part) throw fieldError('Required: one image file');
    const bytes = await part.toBuffer();
    if (part.fieldname !== spec.field) throw fieldError(`Send the image in a file field named ${spec.field}`);
    return bytes;
  } catch (err) {
    if (err instanceof AppError) throw err;
    const { code, statusCode } = (err ?? {}) as { code?: string; statusCode?: number };
    if (code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge();
    if (code === 'FST_FILES_LIMIT') throw fieldError('Send exactly one file');
    if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT')
      throw new PayloadTooLarge('Too many parts in the multipart body');
    if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') throw new UnsupportedMediaType();
    // Busboy's own errors (a truncated or malformed body) carry no status: the client sent bad bytes.
    if (statusCode === undefined || (statusCode >= 400 && statusCode < 500)) {
      throw new ValidationError('Malformed multipart/form-data body');
    }
    throw err;
  }
}
