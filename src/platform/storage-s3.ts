import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from './config.ts';
import { NotFound, PayloadTooLarge, RangeNotSatisfiable } from './errors.ts';
import type { StorageDriver } from './storage.ts';

type S3Config = Extract<Config['storage'], { kind: 's3' }>;

const DEFAULT_TYPE = 'application/octet-stream';

// Streams are buffered whole before a single PutObject: S3 needs the length up front and multipart
// uploads (@aws-sdk/lib-storage) are not a dependency yet. Fine for avatars, covers and
// certificates; large videos need multipart. The cap turns a runaway stream into a clear 413, not an OOM.
const MAX_BUFFERED_UPLOAD_BYTES = 512 * 1024 * 1024;

async function collect(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_BUFFERED_UPLOAD_BYTES) {
      (body as Readable).destroy?.();
      throw new PayloadTooLarge(`Uploads are limited to ${MAX_BUFFERED_UPLOAD_BYTES} bytes`);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

function httpStatus(err: unknown): number | undefined {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (e?.name === 'NoSuchKey' || e?.name === 'NotFound') return 404;
  if (e?.name === 'InvalidRange') return 416;
  return e?.$metadata?.httpStatusCode;
}

/** Stores objects in an S3-compatible bucket (AWS, MinIO, s3rver); links are presigned GetObject URLs. */
export function createS3Driver(config: S3Config): StorageDriver {
  const client = new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials:
      config.accessKeyId && config.secretAccessKey
        ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
        : undefined,
    // The SDK's default checksums use aws-chunked trailers that several S3-compatible servers store corrupted.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = config.bucket;

  async function head(key: string) {
    try {
      const res = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
      return {
        size: res.ContentLength ?? 0,
        contentType: res.ContentType ?? DEFAULT_TYPE,
        ...(res.ContentDisposition ? { contentDisposition: res.ContentDisposition } : {}),
      };
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw err;
    }
  }

  return {
    kind: 's3',

    async put(key, body, meta) {
      const data = Buffer.isBuffer(body) ? body : await collect(body);
      await client.send(
        new PutObjectCommand({
          Bucket,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ContentType: meta.contentType,
          ContentDisposition: meta.contentDisposition,
        }),
      );
      return { size: data.length };
    },

    async get(key, range) {
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket,
            Key: key,
            Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
          }),
        );
        const stream = res.Body ? (res.Body as Readable) : Readable.from([]);
        const length = res.ContentLength ?? 0;
        // Report what the server actually sent: one that ignores Range answers 200 with the whole object.
        const partial = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.ContentRange ?? '');
        if (partial) {
          const [, start, end, size] = partial.map(Number) as [number, number, number, number];
          return { stream, size, contentType: res.ContentType ?? DEFAULT_TYPE, start, end };
        }
        return {
          stream,
          size: length,
          contentType: res.ContentType ?? DEFAULT_TYPE,
          start: 0,
          end: length - 1,
        };
      } catch (err) {
        const status = httpStatus(err);
        if (status === 404) throw new NotFound('File not found');
        if (status === 416) {
          const info = await head(key);
          if (!info) throw new NotFound('File not found');
          throw new RangeNotSatisfiable(info.size);
        }
        throw err;
      }
    },

    head,

    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },

    async presign(key, { expiresInSeconds, contentDisposition }) {
      const command = new GetObjectCommand({
        Bucket,
        Key: key,
        ResponseContentDisposition: contentDisposition,
      });
      return getSignedUrl(client, command, { expiresIn: expiresInSeconds });
    },
  };
}
