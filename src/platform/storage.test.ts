import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFound, RangeNotSatisfiable, ValidationError } from './errors.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import {
  attachmentDisposition,
  createStorage,
  fileRoutes,
  parseRangeHeader,
  type Storage,
} from './storage.ts';

// s3rver ships no type declarations; this is the slice of its API the tests use.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (
  options: Record<string, unknown>,
) => S3rverInstance;

const secret = randomBytes(32).toString('base64url');
const publicUrl = 'http://files.test';
const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function hmac(key: string, exp: string, dn = ''): string {
  return createHmac('sha256', secret).update(`${key}\n${exp}\n${dn}`).digest('hex');
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'lectern-storage-'));
}

describe('local storage', () => {
  let dir: string;
  let storage: Storage;

  beforeAll(async () => {
    dir = await tempDir();
    storage = createStorage(
      { kind: 'local', dir, signedUrlTtlSeconds: 600 },
      { signingSecret: secret, publicUrl },
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates date-partitioned random keys', () => {
    const key = storage.newKey('avatars', '.png');
    const now = new Date();
    const month = String(now.getUTCMonth() + 1).padStart(2, '0');
    expect(key).toMatch(new RegExp(`^avatars/${now.getUTCFullYear()}/${month}/[0-9a-f]{32}\\.png$`));
    expect(storage.newKey('course-covers/x', 'jpg')).toMatch(
      /^course-covers\/x\/\d{4}\/\d{2}\/[0-9a-f]{32}\.jpg$/,
    );
    expect(storage.newKey('certificates')).toMatch(/^certificates\/\d{4}\/\d{2}\/[0-9a-f]{32}$/);
    const keys = new Set(Array.from({ length: 1000 }, () => storage.newKey('a')));
    expect(keys.size).toBe(1000);
    expect(() => storage.newKey('../etc')).toThrow(ValidationError);
    expect(() => storage.newKey('Avatars')).toThrow(ValidationError);
    expect(() => storage.newKey('a', '.tar.gz')).toThrow(ValidationError);
  });

  it('round-trips put, head, get (whole and ranged) and delete', async () => {
    const key = storage.newKey('docs', '.bin');
    await expect(
      storage.put(key, bytes, { contentType: 'application/pdf', contentDisposition: 'inline' }),
    ).resolves.toEqual({
      key,
      size: 100,
    });
    expect(await storage.head(key)).toEqual({
      size: 100,
      contentType: 'application/pdf',
      contentDisposition: 'inline',
    });

    const whole = await storage.get(key);
    expect({ ...whole, stream: undefined }).toEqual({
      stream: undefined,
      size: 100,
      contentType: 'application/pdf',
      start: 0,
      end: 99,
    });
    expect(await readAll(whole.stream)).toEqual(bytes);

    const part = await storage.get(key, { start: 10, end: 19 });
    expect([part.start, part.end, part.size]).toEqual([10, 19, 100]);
    expect(await readAll(part.stream)).toEqual(bytes.subarray(10, 20));

    const tail = await storage.get(key, { start: 95, end: 1000 });
    expect([tail.start, tail.end]).toEqual([95, 99]);
    expect(await readAll(tail.stream)).toEqual(bytes.subarray(95));

    await expect(storage.get(key, { start: 100 })).rejects.toBeInstanceOf(RangeNotSatisfiable);

    await storage.delete(key);
    expect(await storage.head(key)).toBeNull();
    await expect(storage.get(key)).rejects.toBeInstanceOf(NotFound);
    await storage.delete(key); // deleting twice is not an error
  });

  it('writes streams atomically and leaves no temp files', async () => {
    const key = storage.newKey('videos', 'mp4');
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i));
    const { size } = await storage.put(key, Readable.from(chunks), { contentType: 'video/mp4' });
    expect(size).toBe(50_000);
    expect(await readAll((await storage.get(key)).stream)).toEqual(Buffer.concat(chunks));
    const files = await readdir(path.join(dir, path.dirname(key)));
    expect(files.sort()).toEqual([path.basename(key), `${path.basename(key)}.meta.json`].sort());
  });

  it('fails a broken upload without leaving a partial file', async () => {
    const key = storage.newKey('videos', 'mp4');
    const broken = new Readable({
      read() {
        this.push(Buffer.alloc(10));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(storage.put(key, broken, { contentType: 'video/mp4' })).rejects.toThrow('client went away');
    expect(await storage.head(key)).toBeNull();
    const files = await readdir(path.join(dir, path.dirname(key)));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('serves empty files', async () => {
    const key = storage.newKey('empty', 'txt');
    await storage.put(key, Buffer.alloc(0), { contentType: 'text/plain' });
    const file = await storage.get(key);
    expect([file.size, file.start, file.end]).toEqual([0, 0, -1]);
    expect((await readAll(file.stream)).length).toBe(0);
  });

  it.each([
    ['../x'],
    ['/abs'],
    ['a//b'],
    ['Upper/case'],
    ['a/../b'],
    ['a/./b'],
    ['a/b/'],
    ['a\\b'],
    ['a/b.tar.gz'],
    ['a/.hidden'],
    ['a/b.meta.json'],
    ['a/b.toolongext'],
    ['a b'],
    [''],
    ['a'.repeat(300)],
  ])('rejects the bad key %j in every method', async (key) => {
    await expect(storage.put(key, bytes, { contentType: 'text/plain' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(storage.get(key)).rejects.toBeInstanceOf(ValidationError);
    await expect(storage.head(key)).rejects.toBeInstanceOf(ValidationError);
    await expect(storage.delete(key)).rejects.toBeInstanceOf(ValidationError);
    await expect(storage.signedUrl(key)).rejects.toBeInstanceOf(ValidationError);
  });

  it('rejects header-breaking metadata and bad ranges', async () => {
    const key = storage.newKey('x');
    await expect(storage.put(key, bytes, { contentType: 'text/html\r\nx-evil: 1' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(storage.put(key, bytes, { contentType: 'nonsense' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      storage.put(key, bytes, { contentType: 'text/plain', contentDisposition: 'attachment\nx: y' }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(storage.get(key, { start: 5, end: 4 })).rejects.toBeInstanceOf(ValidationError);
    await expect(storage.get(key, { start: -1 })).rejects.toBeInstanceOf(ValidationError);
    expect(await storage.head(key)).toBeNull();
  });

  it('signs URLs as documented', async () => {
    const key = storage.newKey('docs', 'pdf');
    const url = new URL(await storage.signedUrl(key, { expiresInSeconds: 120 }));
    expect(`${url.origin}${url.pathname}`).toBe(`${publicUrl}/files/${key}`);
    const exp = url.searchParams.get('exp') ?? '';
    expect(Number(exp) - Math.floor(Date.now() / 1000)).toBeGreaterThan(115);
    expect(url.searchParams.get('sig')).toBe(hmac(key, exp));
    expect(url.searchParams.has('dn')).toBe(false);

    const named = new URL(await storage.signedUrl(key, { downloadName: 'Notes.pdf' }));
    expect(named.searchParams.get('dn')).toBe('Notes.pdf');
    expect(named.searchParams.get('sig')).toBe(hmac(key, named.searchParams.get('exp') ?? '', 'Notes.pdf'));
  });
});

describe('range and disposition helpers', () => {
  it('parses single ranges and ignores what it may ignore', () => {
    expect(parseRangeHeader('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(parseRangeHeader('bytes=10-1000', 100)).toEqual({ start: 10, end: 99 });
    expect(parseRangeHeader('bytes=-5', 100)).toEqual({ start: 95, end: 99 });
    expect(parseRangeHeader('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRangeHeader('bytes=5-', 100)).toEqual({ start: 5, end: 99 });
    expect(parseRangeHeader(undefined, 100)).toBeUndefined();
    expect(parseRangeHeader('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRangeHeader('items=0-1', 100)).toBeUndefined();
    expect(parseRangeHeader('bytes=-', 100)).toBeUndefined();
    for (const bad of ['bytes=100-', 'bytes=100-200', 'bytes=20-10', 'bytes=-0']) {
      expect(() => parseRangeHeader(bad, 100), bad).toThrow(RangeNotSatisfiable);
    }
    expect(() => parseRangeHeader('bytes=-5', 0)).toThrow(RangeNotSatisfiable);
  });

  it('quotes download names safely', () => {
    expect(attachmentDisposition('report.pdf')).toBe(
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
    expect(attachmentDisposition('Wk 1 — "notes"\r\n.pdf')).toBe(
      `attachment; filename="Wk 1 _ _notes_.pdf"; filename*=UTF-8''Wk%201%20%E2%80%94%20%22notes%22.pdf`,
    );
    expect(attachmentDisposition('../../etc/passwd')).toBe(
      `attachment; filename=".._.._etc_passwd"; filename*=UTF-8''.._.._etc_passwd`,
    );
    expect(attachmentDisposition('\ud800')).toBe(
      `attachment; filename="download"; filename*=UTF-8''download`,
    );
  });
});

describe('GET /files/*', () => {
  let dir: string;
  let storage: Storage;
  let app: FastifyInstance;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    dir = await tempDir();
    storage = createStorage(
      { kind: 'local', dir, signedUrlTtlSeconds: 600 },
      { signingSecret: secret, publicUrl },
    );
    app = Fastify();
    registerErrorHandling(app);
    await app.register(fileRoutes, { storage });
    await app.ready();
    key = storage.newKey('docs', 'bin');
    otherKey = storage.newKey('docs', 'bin');
    await storage.put(key, bytes, { contentType: 'application/pdf' });
    await storage.put(otherKey, Buffer.from('secret'), { contentType: 'text/plain' });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const pathOf = (url: string) => {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  };
  const fetchSigned = async (
    url: string,
    headers: Record<string, string> = {},
    method: 'GET' | 'HEAD' = 'GET',
  ) => app.inject({ method, url: pathOf(url), headers });
  const expectEnvelope = (res: { statusCode: number; json(): unknown }, status: number, message?: string) => {
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({
      status: 'error',
      data: null,
      error: { errorCode: status, ...(message ? { message } : {}) },
    });
  };

  it('serves the exact bytes with caching and safety headers', async () => {
    const res = await fetchSigned(await storage.signedUrl(key));
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload).toEqual(bytes);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-length']).toBe('100');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(String(res.headers['cache-control']))?.[1]);
    expect(maxAge).toBeGreaterThan(590);
    expect(maxAge).toBeLessThanOrEqual(600);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await fetchSigned(await storage.signedUrl(key), {}, 'HEAD');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('100');
    expect(res.rawPayload.length).toBe(0);
  });

  it.each([
    ['bytes=10-19', 10, 19],
    ['bytes=-5', 95, 99],
    ['bytes=5-', 5, 99],
    ['bytes=90-500', 90, 99],
  ])('serves %s as 206 with exactly those bytes', async (range, start, end) => {
    const res = await fetchSigned(await storage.signedUrl(key), { range });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/100`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(res.rawPayload).toEqual(bytes.subarray(start, end + 1));
  });

  it('answers a multi-range request with the whole file', async () => {
    const res = await fetchSigned(await storage.signedUrl(key), { range: 'bytes=0-1,5-6' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload).toEqual(bytes);
  });

  it.each(['bytes=100-', 'bytes=20-10', 'bytes=-0'])(
    'answers the unsatisfiable %s with 416',
    async (range) => {
      const res = await fetchSigned(await storage.signedUrl(key), { range });
      expectEnvelope(res, 416);
      expect(res.headers['content-range']).toBe('bytes */100');
    },
  );

  it('rejects a tampered signature', async () => {
    const url = new URL(await storage.signedUrl(key));
    const sig = url.searchParams.get('sig') ?? '';
    url.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`);
    expectEnvelope(await fetchSigned(url.toString()), 403, 'Invalid signature');
  });

  it('rejects a signature moved to another existing file', async () => {
    const url = new URL(await storage.signedUrl(key));
    url.pathname = `/files/${otherKey}`;
    const res = await fetchSigned(url.toString());
    expectEnvelope(res, 403, 'Invalid signature');
    expect(res.body).not.toContain('secret');
  });

  it('rejects a stretched expiry', async () => {
    const url = new URL(await storage.signedUrl(key));
    url.searchParams.set('exp', String(Number(url.searchParams.get('exp')) + 3600));
    expectEnvelope(await fetchSigned(url.toString()), 403, 'Invalid signature');
  });

  it('rejects an expired link that was signed correctly', async () => {
    const exp = String(Math.floor(Date.now() / 1000) - 10);
    const res = await app.inject({ url: `/files/${key}?exp=${exp}&sig=${hmac(key, exp)}` });
    expectEnvelope(res, 403, 'Link expired');
    const viaApi = await fetchSigned(await storage.signedUrl(key, { expiresInSeconds: -1 }));
    expectEnvelope(viaApi, 403, 'Link expired');
  });

  it('answers 404 for a validly signed link to a missing file', async () => {
    expectEnvelope(
      await fetchSigned(await storage.signedUrl(storage.newKey('docs', 'bin'))),
      404,
      'File not found',
    );
  });

  it('answers 400 for a malformed query and changes nothing', async () => {
    const url = new URL(await storage.signedUrl(key));
    for (const drop of ['sig', 'exp']) {
      const broken = new URL(url);
      broken.searchParams.delete(drop);
      const res = await fetchSigned(broken.toString());
      expectEnvelope(res, 400);
      expect(JSON.stringify(res.json())).toContain(`querystring.${drop}`);
    }
    expectEnvelope(await app.inject({ url: `${pathOf(url.toString())}&sig=${'0'.repeat(64)}` }), 400);
    expect(await storage.head(key)).toEqual({ size: 100, contentType: 'application/pdf' });
  });

  it('serves downloadName as an attachment, bound to the signature', async () => {
    const url = await storage.signedUrl(key, { downloadName: 'Week 1 — notes.pdf' });
    const res = await fetchSigned(url);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="Week 1 _ notes.pdf"; filename*=UTF-8''Week%201%20%E2%80%94%20notes.pdf`,
    );
    const renamed = new URL(url);
    renamed.searchParams.set('dn', 'evil.html');
    expectEnvelope(await fetchSigned(renamed.toString()), 403, 'Invalid signature');
    const dropped = new URL(url);
    dropped.searchParams.delete('dn');
    expectEnvelope(await fetchSigned(dropped.toString()), 403, 'Invalid signature');
  });

  it('does not serve paths outside the key space', async () => {
    for (const p of [
      '/files/../../etc/passwd',
      '/files/%2e%2e/%2e%2e/etc/passwd',
      '/files/docs/x.bin.meta.json',
    ]) {
      const exp = String(Math.floor(Date.now() / 1000) + 60);
      const res = await app.inject({ url: `${p}?exp=${exp}&sig=${'a'.repeat(64)}` });
      expect([403, 404]).toContain(res.statusCode);
      expect(res.json()).toMatchObject({ status: 'error' });
    }
  });
});

describe('S3 storage against s3rver', () => {
  let dir: string;
  let server: S3rverInstance;
  let storage: Storage;

  beforeAll(async () => {
    dir = await tempDir();
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'lectern-test' }],
    });
    const { port } = await server.run();
    storage = createStorage(
      {
        kind: 's3',
        bucket: 'lectern-test',
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        forcePathStyle: true,
        signedUrlTtlSeconds: 600,
      },
      { signingSecret: secret, publicUrl },
    );
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips put, head, get (whole and ranged) and delete', async () => {
    const key = storage.newKey('covers', 'bin');
    expect(await storage.put(key, bytes, { contentType: 'image/png', contentDisposition: 'inline' })).toEqual(
      { key, size: 100 },
    );
    expect(await storage.head(key)).toEqual({
      size: 100,
      contentType: 'image/png',
      contentDisposition: 'inline',
    });

    const whole = await storage.get(key);
    expect([whole.size, whole.start, whole.end, whole.contentType]).toEqual([100, 0, 99, 'image/png']);
    expect(await readAll(whole.stream)).toEqual(bytes);

    const part = await storage.get(key, { start: 10, end: 19 });
    expect([part.size, part.start, part.end]).toEqual([100, 10, 19]);
    expect(await readAll(part.stream)).toEqual(bytes.subarray(10, 20));

    const tail = await storage.get(key, { start: 90 });
    expect([tail.start, tail.end]).toEqual([90, 99]);
    expect(await readAll(tail.stream)).toEqual(bytes.subarray(90));

    await expect(storage.get(key, { start: 100 })).rejects.toBeInstanceOf(RangeNotSatisfiable);

    await storage.delete(key);
    expect(await storage.head(key)).toBeNull();
    await expect(storage.get(key)).rejects.toBeInstanceOf(NotFound);
    await storage.delete(key); // deleting twice is not an error
  });

  it('uploads streams', async () => {
    const key = storage.newKey('certificates', 'pdf');
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(4096, i));
    expect((await storage.put(key, Readable.from(chunks), { contentType: 'application/pdf' })).size).toBe(
      20 * 4096,
    );
    expect(await readAll((await storage.get(key)).stream)).toEqual(Buffer.concat(chunks));
  });

  it('rejects bad keys before calling S3', async () => {
    await expect(storage.put('../x', bytes, { contentType: 'text/plain' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(storage.head('/abs')).rejects.toBeInstanceOf(ValidationError);
  });

  it('presigns URLs a plain HTTP client can fetch', async () => {
    const key = storage.newKey('covers', 'bin');
    await storage.put(key, bytes, { contentType: 'image/png' });
    const res = await fetch(await storage.signedUrl(key, { expiresInSeconds: 60 }));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);

    const named = await storage.signedUrl(key, { downloadName: 'cover art.png' });
    expect(new URL(named).searchParams.get('response-content-disposition')).toBe(
      attachmentDisposition('cover art.png'),
    );
    const namedRes = await fetch(named);
    expect(namedRes.status).toBe(200);
    expect(namedRes.headers.get('content-disposition')).toBe(attachmentDisposition('cover art.png'));
  });

  it('registers no /files route', async () => {
    const app = Fastify();
    registerErrorHandling(app);
    await app.register(fileRoutes, { storage });
    const res = await app.inject({ url: `/files/a?exp=1&sig=${'0'.repeat(64)}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ status: 'error', error: { errorCode: 404 } });
    await app.close();
  });
});
