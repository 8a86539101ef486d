import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Config } from './config.ts';
import { Forbidden, NotFound, RangeNotSatisfiable, ValidationError } from './errors.ts';
import { createLocalDriver } from './storage-local.ts';
import { createS3Driver } from './storage-s3.ts';

export interface PutMeta {
  contentType: string;
  contentDisposition?: string;
}

export interface ObjectInfo {
  size: number;
  contentType: string;
  contentDisposition?: string;
}

/** An inclusive byte range; `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

/** `end` is inclusive; an empty object reads as start 0, end -1. */
export interface ObjectStream {
  stream: Readable;
  size: number;
  contentType: string;
  start: number;
  end: number;
}

export interface Storage {
  readonly kind: 'local' | 's3';
  /** Server-generated key: `${prefix}/${yyyy}/${mm}/${random 128-bit hex}${ext}`; prefix/ext come from code, never from user paths. */
  newKey(prefix: string, ext?: string): string;
  put(
    key: string,
    body: Buffer | NodeJS.ReadableStream,
    meta: PutMeta,
  ): Promise<{ key: string; size: number }>;
  /** Throws NotFound when the object is missing and RangeNotSatisfiable when `range` starts past its end. */
  get(key: string, range?: ByteRange): Promise<ObjectStream>;
  head(key: string): Promise<ObjectInfo | null>;
  delete(key: string): Promise<void>;
  /** Expiring URL a browser can GET directly. Local: `${publicUrl}/files/<key>?exp=<unix>&sig=<hex HMAC-SHA256>`; S3: presigned GetObject. */
  signedUrl(key: string, options?: { expiresInSeconds?: number; downloadName?: string }): Promise<string>;
}

/** What a backend implements. Keys reach it already validated; key generation and app-signed URLs live here, once. */
export interface StorageDriver {
  readonly kind: 'local' | 's3';
  put(key: string, body: Buffer | NodeJS.ReadableStream, meta: PutMeta): Promise<{ size: number }>;
  get(key: string, range?: ByteRange): Promise<ObjectStream>;
  head(key: string): Promise<ObjectInfo | null>;
  delete(key: string): Promise<void>;
  /** Present when the backend signs its own URLs (S3); otherwise the app signs and serves them at /files. */
  presign?(key: string, options: { expiresInSeconds: number; contentDisposition?: string }): Promise<string>;
}

// Lowercase segments and at most one short extension: nothing a filesystem or URL could reinterpret.
const KEY_PATTERN = /^(?:[a-z0-9-]+\/)*[a-z0-9-]+(?:\.[a-z0-9]{1,8})?$/;
const MAX_KEY_LENGTH = 200;
const EXT_PATTERN = /^[a-z0-9]{1,8}$/;
const TOKEN = '[a-z0-9!#$&^_.+-]+';
const CONTENT_TYPE_PATTERN = new RegExp(
  `^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\]*"))*$`,
  'i',
);
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const MAX_DOWNLOAD_NAME = 255;

/** True when `key` is a well-formed storage key (see KEY_PATTERN). */
export function isValidKey(key: string): boolean {
  return typeof key === 'string' && key.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(key);
}

function checkKey(key: string): void {
  if (!isValidKey(key))
    throw new ValidationError('Invalid storage key', [{ field: 'key', message: 'Not a valid storage key' }]);
}

function checkMeta(meta: PutMeta): void {
  const ct = meta.contentType;
  if (ct.length > 255 || !PRINTABLE_ASCII.test(ct) || !CONTENT_TYPE_PATTERN.test(ct)) {
    throw new ValidationError('Invalid content type', [
      { field: 'contentType', message: 'Not a valid media type' },
    ]);
  }
  const cd = meta.contentDisposition;
  if (cd !== undefined && (cd.length > 1024 || !PRINTABLE_ASCII.test(cd))) {
    throw new ValidationError('Invalid content disposition', [
      { field: 'contentDisposition', message: 'Must be printable ASCII' },
    ]);
  }
}

function checkRange(range: ByteRange): void {
  const ok =
    Number.isSafeInteger(range.start) &&
    range.start >= 0 &&
    (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok)
    throw new ValidationError('Invalid byte range', [
      { field: 'range', message: 'Expected 0 <= start <= end' },
    ]);
}

function newKey(prefix: string, ext?: string): string {
  const extension = ext ? ext.replace(/^\./, '') : '';
  if (extension && !EXT_PATTERN.test(extension)) {
    throw new ValidationError('Invalid storage key', [{ field: 'ext', message: 'Not a valid extension' }]);
  }
  const now = new Date();
  const month = String(now.getUTCMonth() + 1).padStart(2, '0');
  const key = `${prefix}/${now.getUTCFullYear()}/${month}/${randomBytes(16).toString('hex')}${extension ? `.${extension}` : ''}`;
  checkKey(key);
  return key;
}

/**
 * `attachment` with an ASCII fallback and the exact name as RFC 5987 `filename*`, so no name can
 * break out of the header or smuggle a path.
 */
export function attachmentDisposition(name: string): string {
  // Drops control characters and lone surrogates (encodeURIComponent throws on the latter).
  const clean =
    [...name]
      .filter((ch) => {
        const c = ch.codePointAt(0) ?? 0;
        return c >= 0x20 && c !== 0x7f && !(c >= 0x80 && c <= 0x9f) && !(c >= 0xd800 && c <= 0xdfff);
      })
      .join('')
      .replace(/[/\\]/g, '_')
      .trim() || 'download';
  const ascii = clean.replace(/[^\x20-\x7e]|["%]/g, '_');
  const encoded = encodeURIComponent(clean).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

interface UrlSigner {
  sign(key: string, exp: string, downloadName: string | undefined): string;
  verify(key: string, exp: string, downloadName: string | undefined, sigHex: string): boolean;
}

function createUrlSigner(secret: string): UrlSigner {
  const mac = (key: string, exp: string, dn: string | undefined) =>
    createHmac('sha256', secret)
      .update(`${key}\n${exp}\n${dn ?? ''}`)
      .digest();
  return {
    sign: (key, exp, dn) => mac(key, exp, dn).toString('hex'),
    verify(key, exp, dn, sigHex) {
      const given = Buffer.from(sigHex, 'hex');
      const expected = mac(key, exp, dn);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

// Storages whose links this app signs and serves; fileRoutes looks the signer up here so the
// secret never becomes part of the public Storage interface.
const appSigned = new WeakMap<Storage, UrlSigner>();

/** Builds the configured storage: files under a directory with app-signed links, or an S3 bucket with presigned links. */
export function createStorage(
  config: Config['storage'],
  opts: { signingSecret: string; publicUrl: string },
): Storage {
  const driver: StorageDriver =
    config.kind === 'local' ? createLocalDriver(config.dir) : createS3Driver(config);
  const signer = createUrlSigner(opts.signingSecret);
  const publicUrl = opts.publicUrl.replace(/\/+$/, '');

  const storage: Storage = {
    kind: driver.kind,
    newKey,
    async put(key, body, meta) {
      checkKey(key);
      checkMeta(meta);
      const { size } = await driver.put(key, body, meta);
      return { key, size };
    },
    async get(key, range) {
      checkKey(key);
      if (range) checkRange(range);
      return driver.get(key, range);
    },
    async head(key) {
      checkKey(key);
      return driver.head(key);
    },
    async delete(key) {
      checkKey(key);
      await driver.delete(key);
    },
    async signedUrl(key, options = {}) {
      checkKey(key);
      const expiresIn = options.expiresInSeconds ?? config.signedUrlTtlSeconds;
      if (!Number.isSafeInteger(expiresIn)) {
        throw new ValidationError('Invalid expiry', [
          { field: 'expiresInSeconds', message: 'Expected an integer' },
        ]);
      }
      const downloadName = options.downloadName || undefined;
      if (downloadName !== undefined && downloadName.length > MAX_DOWNLOAD_NAME) {
        throw new ValidationError('Invalid download name', [
          { field: 'downloadName', message: `At most ${MAX_DOWNLOAD_NAME} characters` },
        ]);
      }
      if (driver.presign) {
        return driver.presign(key, {
          expiresInSeconds: expiresIn,
          contentDisposition: downloadName === undefined ? undefined : attachmentDisposition(downloadName),
        });
      }
      const exp = String(nowSeconds() + expiresIn);
      const params = new URLSearchParams({ exp, sig: signer.sign(key, exp, downloadName) });
      if (downloadName !== undefined) params.set('dn', downloadName);
      return `${publicUrl}/files/${key}?${params.toString()}`;
    },
  };
  if (!driver.presign) appSigned.set(storage, signer);
  return storage;
}

/**
 * Resolves a `Range` header against the object size. Returns undefined to serve the whole file
 * (no header, other units, multiple ranges: RFC 9110 lets a server ignore those).
 */
export function parseRangeHeader(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw new RangeNotSatisfiable(size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (end < start || start >= size) throw new RangeNotSatisfiable(size);
  return { start, end: Math.min(end, size - 1) };
}

const fileQuery = z.object({
  exp: z.string().regex(/^\d{1,12}$/, 'Expected a unix time'),
  sig: z.string().regex(/^[0-9a-f]{64}$/, 'Expected a hex signature'),
  dn: z.string().max(MAX_DOWNLOAD_NAME).optional(),
});

/** Serves app-signed links at `GET|HEAD /files/<key>`; registers nothing for S3, whose links point at the bucket. */
export const fileRoutes: FastifyPluginAsync<{ storage: Storage }> = async (app, { storage }) => {
  const signer = appSigned.get(storage);
  if (!signer) return;

  app.route({
    method: ['GET', 'HEAD'],
    url: '/files/*',
    schema: { hide: true },
    handler: async (request, reply) => {
      const key = (request.params as { '*': string })['*'];
      const query = fileQuery.safeParse(request.query);
      if (!query.success) {
        throw new ValidationError(
          'Invalid input data',
          query.error.issues.map((i) => ({
            field: ['querystring', ...i.path.map(String)].join('.'),
            message: i.message,
          })),
        );
      }
      const { exp, sig } = query.data;
      const dn = query.data.dn || undefined;
      // Signature before expiry, so only authentic links learn that they merely expired.
      if (!signer.verify(key, exp, dn, sig)) throw new Forbidden('Invalid signature');
      const remaining = Number(exp) - nowSeconds();
      if (remaining <= 0) throw new Forbidden('Link expired');

      const info = await storage.head(key);
      if (!info) throw new NotFound('File not found');
      const range = parseRangeHeader(request.headers.range, info.size);

      let body: Readable | undefined;
      let { size, contentType } = info;
      let start = range?.start ?? 0;
      let end = range?.end ?? info.size - 1;
      if (request.method === 'GET') {
        const file = await storage.get(key, range);
        ({ stream: body, size, contentType, start, end } = file);
      }

      reply
        .code(range ? 206 : 200)
        .header('content-type', contentType)
        .header('content-length', String(end - start + 1))
        .header('accept-ranges', 'bytes')
        .header('cache-control', `private, max-age=${remaining}`)
        .header('x-content-type-options', 'nosniff')
        // Files share the API's origin: never let an uploaded HTML or SVG run script there.
        .header('content-security-policy', "default-src 'none'; sandbox")
        // The signature is the access check; like S3 links, these may be embedded by a front end on another origin.
        .header('cross-origin-resource-policy', 'cross-origin');
      const disposition = dn === undefined ? info.contentDisposition : attachmentDisposition(dn);
      if (disposition) reply.header('content-disposition', disposition);
      if (range) reply.header('content-range', `bytes ${start}-${end}/${size}`);
      return reply.send(body);
    },
  });
};
