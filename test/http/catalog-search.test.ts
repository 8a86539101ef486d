import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogCache } from '../../src/modules/catalog/catalog.cache.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { insertCourse } from '../factories/courses.ts';

type Item = { courseId: number; title: string; [k: string]: unknown };

describe('catalog search, pagination and autocomplete', () => {
  let t: TestApp;
  // Each test owns its courses through a distinct owner id, so `instructor=` scopes its queries.
  let nextOwner = 7000;
  const owner = () => ++nextOwner;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const get = (url: string) => t.request({ method: 'GET', url });
  const invalidate = () => catalogCache.invalidateListings(t.app.platform.cache);
  const titles = (items: Item[]) => items.map((i) => i.title);
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

  it('ranks search results, tolerates typos and honours web-search syntax', async () => {
    const ownerId = owner();
    const base = { ownerId, instructorName: 'Guido Teacher' };
    await insertCourse(t, {
      ...base,
      title: 'Python for Beginners',
      description: 'Start coding with python',
    });
    await insertCourse(t, {
      ...base,
      title: 'Advanced Python Patterns',
      description: 'Python python python',
    });
    await insertCourse(t, { ...base, title: 'Python', description: 'The language' });
    await insertCourse(t, {
      ...base,
      title: 'Django for Python Developers',
      description: 'Web apps in python',
    });
    await insertCourse(t, { ...base, title: 'Knitting', description: 'Wool and needles' });
    await insertCourse(t, { ...base, title: 'Python Drafts', status: 'draft' });
    await insertCourse(t, { ...base, title: 'Python Archive', status: 'archived' });

    const search = async (q: string, extra = '') =>
      titles(
        (await get(`/api/courses?instructor=${ownerId}&q=${encodeURIComponent(q)}${extra}`)).body.data.items,
      );
    const python = await search('python');
    expect(python[0]).toBe('Python');
    expect(python.sort()).toEqual(
      ['Advanced Python Patterns', 'Django for Python Developers', 'Python', 'Python for Beginners'].sort(),
    );
    expect((await search('python for beginners'))[0]).toBe('Python for Beginners');
    expect(await search('pyhton')).toContain('Python for Beginners');
    expect(await search('pyhton')).not.toContain('Knitting');
    const noDjango = await search('python -django');
    expect(noDjango).toContain('Python for Beginners');
    expect(noDjango).not.toContain('Django for Python Developers');
    expect((await search('"python patterns" OR knitting')).sort()).toEqual([
      'Advanced Python Patterns',
      'Knitting',
    ]);
    expect((await search('knitting OR django')).sort()).toEqual(['Django for Python Developers', 'Knitting']);
    expect(await search('guido')).toHaveLength(5);
    expect(await search('python', '&sort=price_asc')).toHaveLength(4);
    expect(await search('zzqqxx')).toEqual([]);
  });

  /**
   * `n` published courses of one owner, titled "<title> 0" … "<title> n-1", copied in one statement
   * from the first (search vector included), so they are stored before anything inserted later.
   */
  async function copies(ownerId: number, title: string, description: string, n: number) {
    const template = await insertCourse(t, {
      ownerId,
      title: `${title} 0`,
      description,
      publishedAt: minutesAgo(60),
    });
    await t.app.platform.database.executor.executeSql(
      `insert into catalog.courses (slug, title, description, owner_id, instructor_name, status, published_at, search_vector)
       select c.slug || '-' || g, $2 || ' ' || g, c.description, c.owner_id, c.instructor_name, c.status,
              c.published_at, c.search_vector
       from catalog.courses c, generate_series(1, $3::int - 1) g where c.id = $1`,
      [template.id, title, n],
    );
  }

  it('ranks an exact title first even when the text matches more courses than a search ranks', async () => {
    const ownerId = owner();
    // 1,000 more matches stored before the exact title, so the text index finds them first.
    await copies(ownerId, 'Python Workshop', 'Python exercises', 1001);
    await insertCourse(t, { ownerId, title: 'Python', description: 'The language' });
    const res = await get(`/api/courses?instructor=${ownerId}&q=python&limit=5`);
    expect(res.status).toBe(200);
    expect(res.body.data.items[0].title).toBe('Python');
    expect(res.body.data.facetsExhaustive).toBe(false);
  });

  it('prefers title matches when the text matches more courses than a search ranks', async () => {
    const ownerId = owner();
    // 1,001 courses that mention the word only in their description, stored first.
    await copies(ownerId, 'Mobile apps', 'Screens for phones, written in Kotlin', 1001);
    await insertCourse(t, { ownerId, title: 'Kotlin coroutines in depth', description: 'Concurrency' });
    const res = await get(`/api/courses?instructor=${ownerId}&q=kotlin&limit=5`);
    expect(res.status).toBe(200);
    expect(res.body.data.items[0].title).toBe('Kotlin coroutines in depth');
    // Web-search syntax still applies to the title branch: a phrase and an exclusion.
    const phrase = await get(
      `/api/courses?instructor=${ownerId}&q=${encodeURIComponent('"kotlin coroutines"')}&limit=5`,
    );
    expect(phrase.body.data.items.map((i: { title: string }) => i.title)).toEqual([
      'Kotlin coroutines in depth',
    ]);
    const excluded = await get(
      `/api/courses?instructor=${ownerId}&q=${encodeURIComponent('kotlin -coroutines')}&limit=5`,
    );
    expect(excluded.body.data.items.map((i: { title: string }) => i.title)).not.toContain(
      'Kotlin coroutines in depth',
    );
  });

  it('says facets are not exhaustive whenever matches were cut off, title matches included', async () => {
    const ownerId = owner();
    // 600 courses with the word in the title, stored before 450 that only mention it.
    await copies(ownerId, 'Scala', 'Typed functional programming', 600);
    await copies(ownerId, 'Functional', 'Exercises in Scala', 450);
    const cut = await get(`/api/courses?instructor=${ownerId}&q=scala&limit=5`);
    expect(cut.status).toBe(200);
    expect(cut.body.data.facetsExhaustive).toBe(false);
    const few = await get(
      `/api/courses?instructor=${ownerId}&q=${encodeURIComponent('scala -typed')}&limit=5`,
    );
    expect(few.body.data.facetsExhaustive).toBe(true);
  });

  it('keeps pages stable while new courses are published between them', async () => {
    const ownerId = owner();
    for (let i = 0; i < 7; i++) {
      await insertCourse(t, {
        ownerId,
        title: `Page ${i}`,
        publishedAt: minutesAgo(100 - i),
        priceMinor: i * 100,
      });
    }
    await invalidate();
    const all = titles((await get(`/api/courses?instructor=${ownerId}&limit=50`)).body.data.items);
    expect(all).toHaveLength(7);

    const first = await get(`/api/courses?instructor=${ownerId}&limit=3`);
    expect(first.body.data.pageInfo.hasMore).toBe(true);
    for (let i = 0; i < 2; i++) await insertCourse(t, { ownerId, title: `Newer ${i}` });
    await invalidate();
    const seen = [...titles(first.body.data.items)];
    let cursor = first.body.data.pageInfo.nextCursor as string | null;
    while (cursor) {
      const page = await get(`/api/courses?instructor=${ownerId}&limit=3&cursor=${cursor}`);
      expect(page.status).toBe(200);
      seen.push(...titles(page.body.data.items));
      cursor = page.body.data.pageInfo.nextCursor;
    }
    expect(seen).toEqual(all);

    // The same holds for another sort key, walked page by page.
    const byPrice: string[] = [];
    cursor = null;
    do {
      const page = await get(
        `/api/courses?instructor=${ownerId}&sort=price_desc&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      byPrice.push(...titles(page.body.data.items));
      cursor = page.body.data.pageInfo.nextCursor;
    } while (cursor);
    expect(new Set(byPrice).size).toBe(9);

    // A search walked page by page (relevance keyset) also has no duplicates.
    const relevance: string[] = [];
    cursor = null;
    do {
      const page = await get(
        `/api/courses?instructor=${ownerId}&q=page&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      relevance.push(...titles(page.body.data.items));
      cursor = page.body.data.pageInfo.nextCursor;
    } while (cursor);
    expect(relevance.sort()).toEqual(all.slice().sort());
  });

  it('rejects bad input naming the field', async () => {
    const cases: Array<[string, string]> = [
      ['limit=0', 'querystring.limit'],
      ['limit=51', 'querystring.limit'],
      ['sort=bogus', 'querystring.sort'],
      ['minPrice=-1', 'querystring.minPrice'],
      ['maxPrice=1.234', 'querystring.maxPrice'],
      ['minPrice=10&maxPrice=5', 'querystring.minPrice'],
      ['free=yes', 'querystring.free'],
      ['minRating=6', 'querystring.minRating'],
      ['instructor=abc', 'querystring.instructor'],
      ['difficulty=Expert', 'querystring.difficulty'],
      ['cursor=not-a-cursor', 'querystring.cursor'],
      ['sort=relevance', 'querystring.sort'],
      ['unknown=1', 'querystring'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`/api/courses?${query}`);
      expect(res.status, query).toBe(400);
      expect(
        res.body.error.details.map((d: { field: string }) => d.field),
        query,
      ).toContain(field);
    }
    // A cursor from another sort, or a forged key, is refused too.
    const forged = Buffer.from(JSON.stringify({ s: 'newest', k: "x'; drop table", i: 1 })).toString(
      'base64url',
    );
    expect((await get(`/api/courses?cursor=${forged}`)).status).toBe(400);
    const other = Buffer.from(JSON.stringify({ s: 'price_asc', k: '100', i: 1 })).toString('base64url');
    expect((await get(`/api/courses?cursor=${other}`)).status).toBe(400);
    expect((await get(`/api/courses?q=x&cursor=${other}`)).status).toBe(400);
    expect((await get('/api/search/suggest?q=a')).body.error.details[0].field).toBe('querystring.q');
    expect((await get('/api/courses/popular?limit=0')).status).toBe(400);
  });

  it('suggests titles and instructors and lists popular courses', async () => {
    const ownerId = owner();
    await insertCourse(t, {
      ownerId,
      instructorName: 'Zebulon Quill',
      title: 'Zymurgy Basics',
      enrollmentCount: 900000,
    });
    await insertCourse(t, {
      ownerId,
      instructorName: 'Zebulon Quill',
      title: 'Zymurgy Advanced',
      enrollmentCount: 800000,
      ratingAvg: 5,
    });
    await insertCourse(t, {
      ownerId,
      instructorName: 'Zebulon Quill',
      title: 'Zymurgy Draft',
      status: 'draft',
      enrollmentCount: 999999,
    });
    await invalidate();
    const res = await get('/api/search/suggest?q=zymu');
    expect(res.status).toBe(200);
    expect(res.body.data.courses.map((c: { title: string }) => c.title).sort()).toEqual([
      'Zymurgy Advanced',
      'Zymurgy Basics',
    ]);
    expect(res.body.data.courses[0]).toEqual({
      courseId: expect.any(Number),
      title: expect.any(String),
      slug: expect.any(String),
    });
    const people = await get('/api/search/suggest?q=zebul');
    expect(people.body.data.instructors).toEqual([{ userId: ownerId, name: 'Zebulon Quill' }]);
    const typo = await get('/api/search/suggest?q=zymrgy');
    expect(typo.body.data.courses.length).toBeGreaterThan(0);

    const popular = await get('/api/courses/popular?limit=2');
    expect(popular.status).toBe(200);
    expect(titles(popular.body.data.items)).toEqual(['Zymurgy Basics', 'Zymurgy Advanced']);
  });
});
