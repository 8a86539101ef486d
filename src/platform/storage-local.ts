import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFound, RangeNotSatisfiable, ValidationError } from './errors.ts';
import type { ObjectInfo, PutMeta, StorageDriver } from './storage.ts';

const DEFAULT_TYPE = 'application/octet-stream';

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Stores objects as files under `dir`, each with a `<file>.meta.json` sidecar holding its headers. */
export function createLocalDriver(dir: string): StorageDriver {
  const root = path.resolve(dir);

  // Keys are validated before they get here; this is the second line, should that check ever regress.
  function fileFor(key: string): string {
    const file = path.resolve(root, key);
    if (!file.startsWith(root + path.sep)) throw new ValidationError('Invalid storage key');
    return file;
  }
  const metaFor = (file: string) => `${file}.meta.json`;

  // Temp file + rename: readers see the old object or the new one, never half of one. The temp
  // name starts with a dot, which no valid key does, so a crash leftover is never served.
  async function writeAtomically(target: string, body: Buffer | NodeJS.ReadableStream): Promise<number> {
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(
      path.dirname(target),
      `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`,
    );
    let size = 0;
    try {
      await pipeline(
        Buffer.isBuffer(body) ? Readable.from([body]) : body,
        async function* (chunks: AsyncIterable<Buffer | string>) {
          for await (const chunk of chunks) {
            const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            size += bytes.length;
            yield bytes;
          }
        },
        createWriteStream(tmp, { flags: 'wx', flush: true }),
      );
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return size;
  }

  async function readMeta(file: string): Promise<PutMeta> {
    try {
      const meta = JSON.parse(await readFile(metaFor(file), 'utf8')) as Partial<PutMeta>;
      return {
        contentType: typeof meta.contentType === 'string' ? meta.contentType : DEFAULT_TYPE,
        ...(typeof meta.contentDisposition === 'string'
          ? { contentDisposition: meta.contentDisposition }
          : {}),
      };
    } catch (err) {
      if (isMissing(err)) return { contentType: DEFAULT_TYPE };
      throw err;
    }
  }

  return {
    kind: 'local',

    async put(key, body, meta) {
      const file = fileFor(key);
      // Meta first: a reader racing the upload finds no file yet (404) rather than a file without its type.
      await writeAtomically(metaFor(file), Buffer.from(JSON.stringify(meta)));
      return { size: await writeAtomically(file, body) };
    },

    async get(key, range) {
      const file = fileFor(key);
      // One handle for stat and read, so size and bytes come from the same file even if it is replaced meanwhile.
      const handle = await open(file, 'r').catch((err: unknown) => {
        throw isMissing(err) ? new NotFound('File not found') : err;
      });
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw new NotFound('File not found');
        const size = info.size;
        const start = range?.start ?? 0;
        const end = Math.min(range?.end ?? size - 1, size - 1);
        if (range && start >= size) throw new RangeNotSatisfiable(size);
        const { contentType } = await readMeta(file);
        if (size === 0) {
          await handle.close();
          return { stream: Readable.from([]), size, contentType, start, end };
        }
        // The stream owns the handle from here and closes it when it ends or is destroyed.
        return { stream: handle.createReadStream({ start, end }), size, contentType, start, end };
      } catch (err) {
        await handle.close();
        throw err;
      }
    },

    async head(key): Promise<ObjectInfo | null> {
      const file = fileFor(key);
      try {
        const info = await stat(file);
        if (!info.isFile()) return null;
        return { size: info.size, ...(await readMeta(file)) };
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    // Empty date directories are left behind; they cost nothing and a later upload may reuse them.
    async delete(key) {
      const file = fileFor(key);
      await rm(file, { force: true });
      await rm(metaFor(file), { force: true });
    },
  };
}
