import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tags } from '../../src/modules/catalog/catalog.tables.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string };

const countCategories = async (t: TestApp) =>
  (await t.app.platform.database.executor.executeSql('select count(*)::int as n from catalog.categories'))
    .rows[0]!.n as number;

describe('categories and tags', () => {
  let t: TestApp;
  let admin: Caller;
  let instructor: Caller;
  let student: Caller;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
    admin = await createUserWithRole(t, 'admin');
    instructor = await createUserWithRole(t, 'instructor');
    student = await registerStudent(t);
  });
  afterAll(() => t.close());

  const create = (payload: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'POST', url: '/api/categories', token, payload });
  const patch = (id: number, payload: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'PATCH', url: `/api/categories/${id}`, token, payload });
  const remove = (id: number, token = admin.token) =>
    t.request({ method: 'DELETE', url: `/api/categories/${id}`, token });
  const tree = async () => (await t.request({ method: 'GET', url: '/api/categories' })).body.data.categories;

  it('builds a tree with derived slugs, ordering and published course counts', async () => {
    const dev = await create({ name: 'Development' });
    expect(dev.status).toBe(201);
    expect(dev.body.data).toMatchObject({ name: 'Development', slug: 'development', parentId: null });
    const web = await create({ name: 'Web Development', parentId: dev.body.data.id, position: 1 });
    const data = await create({ name: 'Data & Science', parentId: dev.body.data.id, position: 0 });
    expect(data.body.data.slug).toBe('data-science');
    // A derived slug that is taken gets a suffix rather than a conflict.
    const again = await create({ name: 'Development' });
    expect(again.status).toBe(201);
    expect(again.body.data.slug).toBe('development-2');

    await insertCourse(t, { title: 'React', categoryId: web.body.data.id });
    await insertCourse(t, { title: 'Pandas', categoryId: data.body.data.id });
    await insertCourse(t, { title: 'Draft', categoryId: data.body.data.id, status: 'draft' });
    await insertCourse(t, { title: 'Tooling', categoryId: dev.body.data.id });

    const res = await t.request({ method: 'GET', url: '/api/categories' });
    expect(res.status).toBe(200);
    const root = res.body.data.categories.find((c: { id: number }) => c.id === dev.body.data.id);
    expect(root.courseCount).toBe(3);
    expect(root.children.map((c: { slug: string }) => c.slug)).toEqual(['data-science', 'web-development']);
    expect(root.children[0]).toEqual({
      id: data.body.data.id,
      name: 'Data & Science',
      slug: 'data-science',
      courseCount: 1,
      children: [],
    });
  });

  it('allows only admins to write', async () => {
    const before = await countCategories(t);
    expect((await create({ name: 'Nope' }, instructor.token)).status).toBe(403);
    expect((await create({ name: 'Nope' }, student.token)).status).toBe(403);
    expect((await t.request({ method: 'POST', url: '/api/categories', payload: { name: 'x' } })).status).toBe(
      401,
    );
    const cat = await create({ name: 'Guarded' });
    expect((await patch(cat.body.data.id, { name: 'X' }, instructor.token)).status).toBe(403);
    expect((await remove(cat.body.data.id, student.token)).status).toBe(403);
    expect(await countCategories(t)).toBe(before + 1);
  });

  it('rejects bad input and conflicts without changing anything', async () => {
    await create({ name: 'Music', slug: 'music' });
    const before = await countCategories(t);
    const dup = await create({ name: 'Music 2', slug: 'music' });
    expect(dup.status).toBe(409);
    const orphan = await create({ name: 'Orphan', parentId: 999999 });
    expect(orphan.status).toBe(400);
    expect(orphan.body.error.details).toEqual([
      { field: 'body.parentId', message: 'Parent category not found' },
    ]);
    const badSlug = await create({ name: 'Bad', slug: 'Not A Slug' });
    expect(badSlug.status).toBe(400);
    expect(badSlug.body.error.details[0].field).toBe('body.slug');
    const empty = await create({ name: '  ' });
    expect(empty.body.error.details[0].field).toBe('body.name');
    expect((await create({ name: 'X', extra: 1 })).status).toBe(400);
    expect(await countCategories(t)).toBe(before);
    expect((await patch(424242, { name: 'Ghost' })).status).toBe(404);
    expect((await remove(424242)).status).toBe(404);
    expect((await patch(1, {})).status).toBe(400);
  });

  it('moves and renames, refusing cycles and slugs in use', async () => {
    const a = (await create({ name: 'Alpha' })).body.data;
    const b = (await create({ name: 'Beta', parentId: a.id })).body.data;
    const c = (await create({ name: 'Gamma', parentId: b.id })).body.data;
    expect((await patch(a.id, { parentId: c.id })).status).toBe(409);
    expect((await patch(a.id, { parentId: a.id })).status).toBe(409);
    expect((await patch(a.id, { slug: b.slug })).status).toBe(409);
    expect((await patch(a.id, { parentId: 999999 })).status).toBe(400);
    const moved = await patch(c.id, { parentId: null, name: 'Gamma Top', slug: 'gamma-top', position: 7 });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toEqual({
      id: c.id,
      name: 'Gamma Top',
      slug: 'gamma-top',
      parentId: null,
      position: 7,
    });
    const roots = await tree();
    expect(roots.some((r: { id: number }) => r.id === c.id)).toBe(true);
    expect(roots.find((r: { id: number }) => r.id === a.id).children[0].children).toEqual([]);
  });

  it('refuses to delete a category with subcategories or courses', async () => {
    const parent = (await create({ name: 'Parent' })).body.data;
    const child = (await create({ name: 'Child', parentId: parent.id })).body.data;
    await insertCourse(t, { title: 'Child course', categoryId: child.id, status: 'draft' });
    expect((await remove(parent.id)).status).toBe(409);
    const busy = await remove(child.id);
    expect(busy.status).toBe(409);
    expect(busy.body.error.message).toMatch(/courses/);
    const empty = (await create({ name: 'Empty' })).body.data;
    const res = await remove(empty.id);
    expect(res.status).toBe(200);
    expect((await tree()).some((r: { id: number }) => r.id === empty.id)).toBe(false);
  });

  it('shows a category change in the (cached) tree at once', async () => {
    await tree(); // warm the cache
    const fresh = (await create({ name: 'Brand New' })).body.data;
    expect((await tree()).some((r: { id: number }) => r.id === fresh.id)).toBe(true);
    await patch(fresh.id, { name: 'Renamed' });
    expect((await tree()).find((r: { id: number }) => r.id === fresh.id).name).toBe('Renamed');
  });

  it('suggests tags by prefix and similarity, most used first', async () => {
    await t.app.platform.db.insert(tags).values([
      { name: 'javascript', courseCount: 12 },
      { name: 'java', courseCount: 30 },
      { name: 'jamstack', courseCount: 2 },
      { name: 'python', courseCount: 50 },
    ]);
    const res = await t.request({ method: 'GET', url: '/api/tags?q=JA' });
    expect(res.status).toBe(200);
    expect(res.body.data.tags).toEqual([
      { name: 'java', courseCount: 30 },
      { name: 'javascript', courseCount: 12 },
      { name: 'jamstack', courseCount: 2 },
    ]);
    const fuzzy = await t.request({ method: 'GET', url: '/api/tags?q=pyton' });
    expect(fuzzy.body.data.tags.map((x: { name: string }) => x.name)).toContain('python');
    const top = await t.request({ method: 'GET', url: '/api/tags?limit=2' });
    expect(top.body.data.tags.map((x: { name: string }) => x.name)).toEqual(['python', 'java']);
    const bad = await t.request({ method: 'GET', url: '/api/tags?limit=0' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('querystring.limit');
  });
});
