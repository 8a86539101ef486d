import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_CANDIDATES } from '../../src/modules/catalog/catalog.browse.repository.ts';
import { catalogCache } from '../../src/modules/catalog/catalog.cache.ts';
import { generateCourses } from '../../src/modules/catalog/catalog.seed.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole } from '../factories/users.ts';

type Item = { courseId: number; title: string; [k: string]: unknown };

describe('catalog listing, facets and caching', () => {
  let t: TestApp;
  let admin: { token: string };
  // Each test owns its courses through a distinct owner id, so `instructor=` scopes its queries.
  let nextOwner = 5000;
  const owner = () => ++nextOwner;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
    admin = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  const get = (url: string) => t.request({ method: 'GET', url });
  const invalidate = () => catalogCache.invalidateListings(t.app.platform.cache);
  const titles = (items: Item[]) => items.map((i) => i.title);
  const category = async (name: string, parentId?: number) =>
    (
      await t.request({
        method: 'POST',
        url: '/api/categories',
        token: admin.token,
        payload: { name, parentId },
      })
    ).body.data as { id: number; slug: string; name: string };
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

  it('serves seed 002’s catalog list with exactly its fields and filters', async () => {
    const parent = await category('Programming Languages');
    const child = await category('Scripting', parent.id);
    const ownerId = owner();
    await insertCourse(t, {
      title: 'Seed Python',
      ownerId,
      instructorName: 'Ada Lovelace',
      categoryId: child.id,
      difficulty: 'Intermediate',
      durationMinutes: 90,
      priceMinor: 4999,
      ratingAvg: 4.5,
      coverImageUrl: 'https://cdn.example/p.png',
      description: 'Learn Python',
    });
    await insertCourse(t, { title: 'Seed Long', ownerId, categoryId: parent.id, durationMinutes: 600 });
    await insertCourse(t, { title: 'Seed Draft', ownerId, categoryId: parent.id, status: 'draft' });
    await insertCourse(t, { title: 'Seed Archived', ownerId, categoryId: parent.id, status: 'archived' });
    await invalidate();

    const res = await get(`/api/courses/catalog/list?category=${parent.slug}`);
    expect(res.status).toBe(200);
    expect(titles(res.body.data.courses).sort()).toEqual(['Seed Long', 'Seed Python']);
    const item = res.body.data.courses.find((c: Item) => c.title === 'Seed Python');
    expect(Object.keys(item).sort()).toEqual(
      [
        'category',
        'courseId',
        'coverImageUrl',
        'description',
        'difficulty',
        'duration',
        'instructor',
        'price',
        'rating',
        'title',
      ].sort(),
    );
    expect(item).toMatchObject({
      instructor: 'Ada Lovelace',
      rating: 4.5,
      duration: 90,
      category: 'Scripting',
      coverImageUrl: 'https://cdn.example/p.png',
      description: 'Learn Python',
      price: 49.99,
      difficulty: 'Intermediate',
    });
    // By name, case-insensitive, subcategory only, duration as a maximum, difficulty.
    const byName = await get('/api/courses/catalog/list?category=scripting');
    expect(titles(byName.body.data.courses)).toEqual(['Seed Python']);
    const short = await get(`/api/courses/catalog/list?category=${parent.slug}&duration=120`);
    expect(titles(short.body.data.courses)).toEqual(['Seed Python']);
    const inter = await get(`/api/courses/catalog/list?category=${parent.slug}&difficulty=Intermediate`);
    expect(titles(inter.body.data.courses)).toEqual(['Seed Python']);
    const one = await get(`/api/courses/catalog/list?category=${parent.slug}&limit=1`);
    expect(one.body.data.courses).toHaveLength(1);
    const unknown = await get('/api/courses/catalog/list?category=no-such-thing');
    expect(unknown.body.data.courses).toEqual([]);
    const bad = await get('/api/courses/catalog/list?difficulty=Expert');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('querystring.difficulty');
    expect((await get('/api/courses/catalog/list?limit=101')).status).toBe(400);
    expect((await get('/api/courses/catalog/list?duration=-5')).status).toBe(400);
  });

  it('filters by each criterion', async () => {
    const ownerId = owner();
    const parent = await category('Filter Parent');
    const child = await category('Filter Child', parent.id);
    const base = { ownerId, instructorName: 'Filter Teacher' };
    await insertCourse(t, {
      ...base,
      title: 'F1',
      categoryId: child.id,
      tags: ['sql', 'data'],
      priceMinor: 0,
    });
    await insertCourse(t, {
      ...base,
      title: 'F2',
      categoryId: parent.id,
      tags: ['sql'],
      difficulty: 'Advanced',
      language: 'fr',
      priceMinor: 2500,
      ratingAvg: 4.8,
    });
    await insertCourse(t, { ...base, title: 'F3', tags: ['data'], priceMinor: 12000, ratingAvg: 3.1 });
    await insertCourse(t, { ...base, title: 'F4 draft', status: 'draft', tags: ['sql'] });
    await insertCourse(t, { title: 'Other owner', tags: ['sql'] });
    await invalidate();

    const list = async (query: string) =>
      titles((await get(`/api/courses?instructor=${ownerId}&${query}`)).body.data.items).sort();
    expect(await list('')).toEqual(['F1', 'F2', 'F3']);
    expect(await list(`category=${parent.slug}`)).toEqual(['F1', 'F2']);
    expect(await list(`category=${child.slug}`)).toEqual(['F1']);
    expect(await list('tags=sql,DATA')).toEqual(['F1']);
    expect(await list('tags=sql')).toEqual(['F1', 'F2']);
    expect(await list('difficulty=Advanced')).toEqual(['F2']);
    expect(await list('language=fr')).toEqual(['F2']);
    expect(await list('minPrice=20&maxPrice=119.99')).toEqual(['F2']);
    expect(await list('minPrice=25.00')).toEqual(['F2', 'F3']);
    expect(await list('free=true')).toEqual(['F1']);
    expect(await list('minRating=4')).toEqual(['F2']);
    const f2 = (await get(`/api/courses?instructor=${ownerId}&language=fr`)).body.data.items[0];
    expect(f2).toMatchObject({
      slug: expect.any(String),
      subtitle: null,
      instructor: { userId: ownerId, name: 'Filter Teacher' },
      category: { id: parent.id, name: 'Filter Parent', slug: parent.slug },
      tags: ['sql'],
      difficulty: 'Advanced',
      language: 'fr',
      price: 25,
      currency: 'NGN',
      rating: 4.8,
      ratingCount: 0,
      durationMinutes: 0,
      coverImageUrl: null,
    });
    expect(new Date(f2.publishedAt).toISOString()).toBe(f2.publishedAt);
  });

  it('sorts by each key', async () => {
    const ownerId = owner();
    const base = { ownerId };
    await insertCourse(t, {
      ...base,
      title: 'S-a',
      publishedAt: minutesAgo(30),
      enrollmentCount: 5,
      ratingAvg: 4.9,
      priceMinor: 3000,
    });
    await insertCourse(t, {
      ...base,
      title: 'S-b',
      publishedAt: minutesAgo(10),
      enrollmentCount: 50,
      ratingAvg: 3.0,
      priceMinor: 1000,
    });
    await insertCourse(t, {
      ...base,
      title: 'S-c',
      publishedAt: minutesAgo(20),
      enrollmentCount: 20,
      ratingAvg: 4.0,
      priceMinor: 9000,
    });
    await invalidate();
    const sorted = async (sort: string) =>
      titles((await get(`/api/courses?instructor=${ownerId}&sort=${sort}`)).body.data.items);
    expect(await sorted('newest')).toEqual(['S-b', 'S-c', 'S-a']);
    expect(titles((await get(`/api/courses?instructor=${ownerId}`)).body.data.items)).toEqual([
      'S-b',
      'S-c',
      'S-a',
    ]);
    expect(await sorted('popular')).toEqual(['S-b', 'S-c', 'S-a']);
    expect(await sorted('rating')).toEqual(['S-a', 'S-c', 'S-b']);
    expect(await sorted('price_asc')).toEqual(['S-b', 'S-a', 'S-c']);
    expect(await sorted('price_desc')).toEqual(['S-c', 'S-a', 'S-b']);
  });

  it('counts facets for the current query, each ignoring its own filter', async () => {
    const ownerId = owner();
    const cat = await category('Facet Cat');
    const base = { ownerId };
    await insertCourse(t, {
      ...base,
      title: 'Fa1',
      categoryId: cat.id,
      difficulty: 'Beginner',
      priceMinor: 0,
    });
    await insertCourse(t, {
      ...base,
      title: 'Fa2',
      categoryId: cat.id,
      difficulty: 'Beginner',
      priceMinor: 1500,
    });
    await insertCourse(t, {
      ...base,
      title: 'Fa3',
      difficulty: 'Advanced',
      language: 'fr',
      priceMinor: 2500,
    });
    await insertCourse(t, { ...base, title: 'Fa4', difficulty: 'Intermediate', priceMinor: 15000 });
    await insertCourse(t, { ...base, title: 'Fa5 draft', difficulty: 'Advanced', status: 'draft' });
    await invalidate();
    const res = await get(`/api/courses?instructor=${ownerId}&difficulty=Beginner`);
    expect(titles(res.body.data.items).sort()).toEqual(['Fa1', 'Fa2']);
    const { facets } = res.body.data;
    expect(facets.difficulty).toEqual([
      { value: 'Beginner', count: 2 },
      { value: 'Advanced', count: 1 },
      { value: 'Intermediate', count: 1 },
    ]);
    expect(facets.category).toEqual([{ id: cat.id, name: 'Facet Cat', slug: cat.slug, count: 2 }]);
    expect(facets.language).toEqual([{ value: 'en', count: 2 }]);
    expect(facets.price).toEqual([
      { band: 'free', count: 1 },
      { band: 'under_20', count: 1 },
    ]);
    const all = (await get(`/api/courses?instructor=${ownerId}`)).body.data.facets;
    expect(all.price).toEqual([
      { band: 'free', count: 1 },
      { band: 'under_20', count: 1 },
      { band: '20_50', count: 1 },
      { band: 'over_100', count: 1 },
    ]);
    expect(all.language).toEqual([
      { value: 'en', count: 3 },
      { value: 'fr', count: 1 },
    ]);
  });

  it('caches catalog pages and shows changes after invalidation', async () => {
    const ownerId = owner();
    const course = await insertCourse(t, { ownerId, title: 'Cached Original' });
    await invalidate();
    const hits = async () => {
      const res = await t.request({ method: 'GET', url: '/metrics' });
      const line = String(res.body)
        .split('\n')
        .find(
          (l) =>
            l.startsWith('lectern_cache_requests_total') &&
            l.includes('namespace="catalog"') &&
            l.includes('result="hit"'),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const url = `/api/courses?instructor=${ownerId}`;
    expect(titles((await get(url)).body.data.items)).toEqual(['Cached Original']);
    const before = await hits();
    expect(titles((await get(url)).body.data.items)).toEqual(['Cached Original']);
    expect(await hits()).toBe(before + 1);

    await t.app.platform.database.executor.executeSql('update catalog.courses set title = $1 where id = $2', [
      'Cached Renamed',
      course.id,
    ]);
    // A direct write skips the service, so the page is still the cached one ...
    expect(titles((await get(url)).body.data.items)).toEqual(['Cached Original']);
    await catalogCache.invalidateCourse(t.app.platform.cache, course.id);
    // ... until the course's invalidation, which the authoring service runs after every edit.
    expect(titles((await get(url)).body.data.items)).toEqual(['Cached Renamed']);
    const list = `/api/courses/catalog/list?limit=100`;
    expect(titles((await get(list)).body.data.courses)).toContain('Cached Renamed');
  });

  it('sends cached pages as the envelope with a fresh timestamp, and fresh data once an edit returns', async () => {
    const ownerId = owner();
    const course = await insertCourse(t, { ownerId, title: 'Envelope Original' });
    await invalidate();
    const url = `/api/courses?instructor=${ownerId}`;
    for (const round of [1, 2, 3]) {
      const before = new Date().toISOString();
      const res = await get(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Object.keys(res.body)).toEqual(['status', 'data', 'timestamp']);
      expect(res.body.status).toBe('success');
      // Built per answer, not cached with the page.
      expect(res.body.timestamp >= before, `round ${round}`).toBe(true);
      expect(res.body.data.facetsExhaustive).toBe(true);
      expect(titles(res.body.data.items)).toEqual(['Envelope Original']);
    }
    const list = (await get('/api/courses/catalog/list?limit=100')).body;
    expect(list.status).toBe('success');
    expect(titles(list.data.courses)).toContain('Envelope Original');
    expect((await get('/api/courses/popular?limit=50')).body.data.items.length).toBeGreaterThan(0);

    const edit = await t.request({
      method: 'PATCH',
      url: `/api/courses/${course.id}`,
      token: admin.token,
      payload: { title: 'Envelope Edited' },
    });
    expect(edit.status).toBe(200);
    expect(titles((await get(url)).body.data.items)).toEqual(['Envelope Edited']);
    expect(titles((await get('/api/courses/catalog/list?limit=100')).body.data.courses)).toContain(
      'Envelope Edited',
    );
  });

  it('ranks and counts at most SEARCH_CANDIDATES matches of a search, and says so', async () => {
    const ownerId = owner();
    const name = 'Quokka Teacher';
    await generateCourses(t.app.platform.db, {
      count: SEARCH_CANDIDATES + 50,
      instructors: [{ userId: ownerId, name }],
    });
    const total = (facets: { difficulty: Array<{ count: number }> }) =>
      facets.difficulty.reduce((sum, f) => sum + f.count, 0);

    const broad = await get(`/api/courses?q=quokka&limit=50`);
    expect(broad.status).toBe(200);
    expect(broad.body.data.facetsExhaustive).toBe(false);
    expect(total(broad.body.data.facets)).toBe(SEARCH_CANDIDATES);
    expect(broad.body.data.items).toHaveLength(50);
    // Relevance pages walk the candidates once each, then stop.
    const seen = new Set<number>(broad.body.data.items.map((i: Item) => i.courseId));
    let cursor: string | null = broad.body.data.pageInfo.nextCursor;
    while (cursor) {
      const page = (await get(`/api/courses?q=quokka&limit=50&cursor=${cursor}`)).body.data;
      for (const item of page.items) seen.add(item.courseId);
      cursor = page.pageInfo.nextCursor;
    }
    expect(seen.size).toBe(SEARCH_CANDIDATES);

    // Another sort reads every match exactly: the cheapest course overall comes first.
    const [cheapest] = (await get(`/api/courses?instructor=${ownerId}&sort=price_asc&limit=1`)).body.data
      .items;
    const byPrice = (await get(`/api/courses?q=quokka&sort=price_asc&limit=1`)).body.data;
    expect(byPrice.items[0].price).toBe(cheapest.price);
    expect(byPrice.pageInfo.hasMore).toBe(true);

    // A narrow search is counted exactly.
    const narrow = (
      await get(`/api/courses?q=quokka&instructor=${ownerId}&difficulty=Beginner&minRating=4.9&limit=50`)
    ).body.data;
    expect(narrow.pageInfo.hasMore).toBe(false);
    expect(narrow.facetsExhaustive).toBe(true);
    const beginners = narrow.facets.difficulty.find((f: { value: string }) => f.value === 'Beginner');
    expect(beginners?.count ?? 0).toBe(narrow.items.length);
  });

  it('does not let /courses/:id capture the static catalog routes', async () => {
    expect((await get('/api/courses/catalog/list')).body.data).toHaveProperty('courses');
    expect((await get('/api/courses/popular')).body.data).toHaveProperty('items');
  });
});
