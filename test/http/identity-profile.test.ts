import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

// A real 1×1 PNG, a JPEG (SOI + JFIF APP0 + filler + EOI) and a WebP (RIFF/WEBP + VP8L chunk).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  Buffer.from('JFIF\0', 'latin1'),
  Buffer.from([0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]),
  randomBytes(64),
  Buffer.from([0xff, 0xd9]),
]);
const WEBP = (() => {
  const body = Buffer.concat([Buffer.from('WEBPVP8L', 'latin1'), Buffer.from([5, 0, 0, 0]), randomBytes(5)]);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), size, body]);
})();
const SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>',
);
const MB = 1024 * 1024;

interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

/** A multipart/form-data body built by hand, so the test controls every byte and header. */
function multipartBody(parts: Part[]) {
  const boundary = `----lectern${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const type = p.contentType ? `Content-Type: ${p.contentType}\r\n` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

describe('profiles: avatar upload, public profiles, preferences', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, params: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, params)).rows;
  const avatarKeyOf = async (userId: number) =>
    (await sql('select avatar_key from identity.users where id = $1', [userId]))[0]!.avatar_key as
      string | null;
  const profileOf = async (token: string) =>
    (await t.request({ method: 'GET', url: '/api/auth/user/profile', token })).body.data;
  const upload = (token: string | undefined, file: Partial<Part> & { data: Buffer | string }) =>
    t.request({
      method: 'PUT',
      url: '/api/auth/user/avatar',
      token,
      ...multipartBody([{ name: 'avatar', filename: 'me.png', contentType: 'image/png', ...file }]),
    });
  /** Follows the avatar redirect into the app-signed file route and returns the served bytes. */
  const fetchAvatar = async (userId: number) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/users/${userId}/avatar` });
    if (res.statusCode !== 302) return { status: res.statusCode, res };
    const location = new URL(String(res.headers.location));
    const file = await t.app.inject({ method: 'GET', url: `${location.pathname}${location.search}` });
    return { status: 302, res, file };
  };

  describe('PUT /api/auth/user/avatar', () => {
    it.each([
      ['PNG', PNG, 'image/png', '.png'],
      ['JPEG', JPEG, 'image/jpeg', '.jpg'],
      ['WebP', WEBP, 'image/webp', '.webp'],
    ])('stores a %s and serves it through a signed redirect', async (_label, bytes, contentType, ext) => {
      const user = await registerStudent(t);
      const res = await upload(user.token, { data: bytes, contentType });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        avatarUrl: expect.stringMatching(new RegExp(`/api/users/${user.userId}/avatar$`)),
        message: 'Avatar updated',
      });
      expect((await profileOf(user.token)).avatarUrl).toBe(res.body.data.avatarUrl);
      const key = await avatarKeyOf(user.userId);
      expect(key).toMatch(new RegExp(`^avatars/.+\\${ext}$`));
      expect(await t.app.platform.storage.head(key!)).toMatchObject({ size: bytes.length, contentType });

      const fetched = await fetchAvatar(user.userId);
      expect(fetched.status).toBe(302);
      expect(fetched.res.headers['cache-control']).toBe('private, max-age=240');
      expect(fetched.file!.statusCode).toBe(200);
      expect(fetched.file!.headers['content-type']).toBe(contentType);
      expect(fetched.file!.rawPayload.equals(bytes)).toBe(true);
    });

    it('decides the type by magic bytes only: a PNG named .jpg and sent as image/jpeg stays a PNG', async () => {
      const user = await registerStudent(t);
      const res = await upload(user.token, { data: PNG, filename: 'photo.jpg', contentType: 'image/jpeg' });
      expect(res.status).toBe(200);
      const key = await avatarKeyOf(user.userId);
      expect(key).toMatch(/\.png$/);
      expect((await t.app.platform.storage.head(key!))?.contentType).toBe('image/png');
    });

    it.each([
      ['a text file', Buffer.from('hello, I am not an image\n')],
      ['an SVG', SVG],
      ['a truncated PNG signature', PNG.subarray(0, 6)],
    ])('refuses %s named avatar.png with 415 and leaves the profile as it was', async (_label, data) => {
      const user = await registerStudent(t);
      expect((await upload(user.token, { data: PNG })).status).toBe(200);
      const before = await profileOf(user.token);
      const keyBefore = await avatarKeyOf(user.userId);

      const res = await upload(user.token, { data, filename: 'avatar.png', contentType: 'image/png' });
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({
        status: 'error',
        error: { errorCode: 415, message: 'The avatar must be a PNG, JPEG or WebP image' },
      });
      expect(await profileOf(user.token)).toEqual(before);
      expect(await avatarKeyOf(user.userId)).toBe(keyBefore);
      expect((await fetchAvatar(user.userId)).file!.rawPayload.equals(PNG)).toBe(true);
    });

    it.each([
      ['just over 2 MB (cut off while streaming)', 2 * MB + 1],
      ['3 MB (refused from its Content-Length)', 3 * MB],
    ])('answers 413 for a file %s and stores nothing', async (_label, size) => {
      const user = await registerStudent(t);
      const countAvatars = async () =>
        Number(
          (await sql('select count(*)::int as n from identity.users where avatar_key is not null'))[0]!.n,
        );
      const before = await countAvatars();
      const big = Buffer.concat([PNG, Buffer.alloc(size - PNG.length)]);
      const res = await upload(user.token, { data: big });
      expect(res.status).toBe(413);
      expect(res.body.error).toMatchObject({ errorCode: 413, message: 'The avatar must be at most 2 MB' });
      expect(await avatarKeyOf(user.userId)).toBeNull();
      expect(await countAvatars()).toBe(before);
      expect((await profileOf(user.token)).avatarUrl).toBeNull();
    });

    it('accepts a file of exactly 2 MB', async () => {
      const user = await registerStudent(t);
      const res = await upload(user.token, { data: Buffer.concat([PNG, Buffer.alloc(2 * MB - PNG.length)]) });
      expect(res.status).toBe(200);
    });

    it('answers 400 naming body.avatar for an empty file, no file, or another field name', async () => {
      const user = await registerStudent(t);
      const empty = await upload(user.token, { data: Buffer.alloc(0) });
      expect(empty.status).toBe(400);
      expect(empty.body.error.details).toEqual([{ field: 'body.avatar', message: 'The file is empty' }]);

      const noFile = await t.request({
        method: 'PUT',
        url: '/api/auth/user/avatar',
        token: user.token,
        ...multipartBody([{ name: 'caption', data: 'no file here' }]),
      });
      expect(noFile.status).toBe(400);
      expect(noFile.body.error.details[0].field).toBe('body.avatar');

      const otherField = await upload(user.token, { name: 'picture', data: PNG });
      expect(otherField.status).toBe(400);
      expect(otherField.body.error.details[0].field).toBe('body.avatar');
      expect(await avatarKeyOf(user.userId)).toBeNull();
    });

    it('answers 415 for a JSON or raw image body', async () => {
      const user = await registerStudent(t);
      const json = await t.request({
        method: 'PUT',
        url: '/api/auth/user/avatar',
        token: user.token,
        payload: { avatar: PNG.toString('base64') },
      });
      expect(json.status).toBe(415);
      expect(json.body.error.errorCode).toBe(415);
      const raw = await t.request({
        method: 'PUT',
        url: '/api/auth/user/avatar',
        token: user.token,
        headers: { 'content-type': 'image/png' },
        payload: PNG,
      });
      expect(raw.status).toBe(415);
      expect(await avatarKeyOf(user.userId)).toBeNull();
    });

    it('answers 401 without a token', async () => {
      const res = await upload(undefined, { data: PNG });
      expect(res.status).toBe(401);
      expect(res.body.status).toBe('error');
    });

    it('replacing the avatar deletes the old stored object; DELETE removes it altogether', async () => {
      const user = await registerStudent(t);
      await upload(user.token, { data: PNG });
      const first = (await avatarKeyOf(user.userId))!;
      await upload(user.token, { data: JPEG, contentType: 'image/jpeg' });
      const second = (await avatarKeyOf(user.userId))!;
      expect(second).not.toBe(first);
      expect(await t.app.platform.storage.head(first)).toBeNull();
      expect((await fetchAvatar(user.userId)).file!.rawPayload.equals(JPEG)).toBe(true);

      const del = await t.request({ method: 'DELETE', url: '/api/auth/user/avatar', token: user.token });
      expect(del.status).toBe(200);
      expect(del.body.data.message).toBe('Avatar removed');
      expect(await t.app.platform.storage.head(second)).toBeNull();
      expect(await avatarKeyOf(user.userId)).toBeNull();
      expect((await profileOf(user.token)).avatarUrl).toBeNull();
      expect((await fetchAvatar(user.userId)).status).toBe(404);
      // Idempotent; and only for signed-in callers.
      expect(
        (await t.request({ method: 'DELETE', url: '/api/auth/user/avatar', token: user.token })).status,
      ).toBe(200);
      expect((await t.request({ method: 'DELETE', url: '/api/auth/user/avatar' })).status).toBe(401);
    });

    it('keeps one stored object per user when uploads race', async () => {
      const user = await registerStudent(t);
      const results = await Promise.all([PNG, JPEG, WEBP, PNG].map((data) => upload(user.token, { data })));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const key = (await avatarKeyOf(user.userId))!;
      expect(await t.app.platform.storage.head(key)).not.toBeNull();
      const dir = key.split('/').slice(0, 3).join('/');
      const stored = readdirSync(`${t.env.DATA_DIR}/files/${dir}`).filter((f) => !f.endsWith('.meta.json'));
      const all = await sql('select avatar_key from identity.users where avatar_key is not null');
      const live = new Set(all.map((r) => String(r.avatar_key).split('/').at(-1)));
      expect(stored.filter((f) => !live.has(f))).toEqual([]);
    });
  });

  describe('GET /api/users/{id}/avatar', () => {
    it('is 404 without an uploaded avatar, for unknown ids, and once the user is suspended', async () => {
      const plain = await registerStudent(t);
      expect((await fetchAvatar(plain.userId)).status).toBe(404);
      expect((await fetchAvatar(2_000_000_000)).status).toBe(404);
      expect((await t.request({ method: 'GET', url: '/api/users/abc/avatar' })).status).toBe(400);

      const user = await registerStudent(t);
      await upload(user.token, { data: PNG });
      expect((await fetchAvatar(user.userId)).status).toBe(302);
      await sql(`update identity.users set status = 'disabled' where id = $1`, [user.userId]);
      expect((await fetchAvatar(user.userId)).status).toBe(404);
    });

    it('stops serving the upload once the profile points at an external picture', async () => {
      const user = await registerStudent(t);
      await upload(user.token, { data: PNG });
      const put = await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: user.token,
        payload: { avatarUrl: 'https://cdn.example.com/me.jpg' },
      });
      expect(put.status).toBe(200);
      expect((await fetchAvatar(user.userId)).status).toBe(404);
    });
  });

  describe('GET /api/users/{id} (public profile)', () => {
    it('shows an active instructor without sign-in, and nothing private', async () => {
      const instructor = await createUserWithRole(t, 'instructor');
      await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: instructor.token,
        payload: { bio: 'Teaches databases', phone: '+2348012345678' },
      });
      await upload(instructor.token, { data: PNG });
      const res = await t.request({ method: 'GET', url: `/api/users/${instructor.userId}` });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        userId: instructor.userId,
        name: 'Test instructor',
        username: expect.any(String),
        avatarUrl: expect.stringMatching(new RegExp(`/api/users/${instructor.userId}/avatar$`)),
        bio: 'Teaches databases',
        role: 'instructor',
        publishedCourses: [],
      });
      const admin = await createUserWithRole(t, 'admin');
      expect((await t.request({ method: 'GET', url: `/api/users/${admin.userId}` })).body.data.role).toBe(
        'admin',
      );
    });

    it('answers the same 404 for a student, a suspended instructor, a deleted user and an unknown id', async () => {
      const student = await registerStudent(t);
      const suspended = await createUserWithRole(t, 'instructor');
      await sql(`update identity.users set status = 'disabled' where id = $1`, [suspended.userId]);
      const deleted = await createUserWithRole(t, 'instructor');
      await sql(`update identity.users set deleted_at = now() where id = $1`, [deleted.userId]);
      const bodies = [];
      for (const id of [student.userId, suspended.userId, deleted.userId, 2_000_000_000]) {
        const res = await t.request({ method: 'GET', url: `/api/users/${id}` });
        expect(res.status).toBe(404);
        bodies.push(res.body.error);
      }
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
      // Even a signed-in student sees no other student.
      const other = await registerStudent(t);
      const res = await t.request({ method: 'GET', url: `/api/users/${student.userId}`, token: other.token });
      expect(res.status).toBe(404);
    });

    it('answers 400 for ids that are not positive 32-bit integers', async () => {
      for (const id of ['0', '-1', 'x', '99999999999']) {
        const res = await t.request({ method: 'GET', url: `/api/users/${id}` });
        expect(res.status).toBe(400);
        expect(res.body.error.details[0].field).toBe('params.id');
      }
    });
  });

  describe('locale and timezone preferences', () => {
    it('round-trip through the profile', async () => {
      const user = await registerStudent(t);
      const res = await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: user.token,
        payload: { locale: 'pt-BR', timezone: 'Africa/Lagos' },
      });
      expect(res.status).toBe(200);
      expect(await profileOf(user.token)).toMatchObject({ locale: 'pt-BR', timezone: 'Africa/Lagos' });
      await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: user.token,
        payload: { locale: null, timezone: null },
      });
      expect(await profileOf(user.token)).toMatchObject({ locale: null, timezone: null });
    });

    it('refuses bad values with 400 naming the field and changes nothing', async () => {
      const user = await registerStudent(t);
      await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: user.token,
        payload: { locale: 'en-GB', timezone: 'Europe/London' },
      });
      for (const [payload, field] of [
        [{ locale: 'not a locale!' }, 'body.locale'],
        [{ locale: 'english' }, 'body.locale'],
        [{ timezone: 'Mars/Olympus_Mons' }, 'body.timezone'],
        [{ locale: 'fr', timezone: 'Nowhere' }, 'body.timezone'],
      ] as const) {
        const res = await t.request({
          method: 'PUT',
          url: '/api/auth/user/profile',
          token: user.token,
          payload,
        });
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
      expect(await profileOf(user.token)).toMatchObject({ locale: 'en-GB', timezone: 'Europe/London' });
    });
  });
});
