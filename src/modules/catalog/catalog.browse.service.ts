import { z } from 'zod';
import type { Cache } from '../../platform/cache.ts';
import type { Db, SqlRow } from '../../platform/db.ts';
import { ValidationError } from '../../platform/errors.ts';
import * as browseRepo from './catalog.browse.repository.ts';
import type { BrowseFilters, Keyset, SearchText } from './catalog.browse.repository.ts';
import {
  catalogList,
  coursePage,
  popularCourses,
  type BrowseSort,
  type CatalogListQuery,
  type CourseSummary,
  type ListCoursesQuery,
} from './catalog.browse.schemas.ts';
import { catalogCache } from './catalog.cache.ts';

export interface CatalogBrowseDeps {
  db: Db;
  cache: Cache;
}

type Difficulty = CourseSummary['difficulty'];
type PriceBand = 'free' | 'under_20' | '20_50' | '50_100' | 'over_100';
const bandOrder: PriceBand[] = ['free', 'under_20', '20_50', '50_100', 'over_100'];

/** Minor to major units; exact for the integer range prices live in. */
const major = (minor: number) => minor / 100;

function toSummary(r: SqlRow): CourseSummary {
  return {
    courseId: r.id,
    slug: r.slug,
    title: r.title,
    subtitle: r.subtitle ?? null,
    instructor: { userId: r.owner_id, name: r.instructor_name },
    category: r.category_id ? { id: r.category_id, name: r.category_name, slug: r.category_slug } : null,
    tags: r.tags ?? [],
    difficulty: r.difficulty as Difficulty,
    language: r.language,
    price: major(r.price_minor),
    currency: r.currency,
    rating: Number(r.rating),
    ratingCount: r.rating_count,
    durationMinutes: r.duration_minutes,
    coverImageUrl: r.cover_image_url ?? null,
    publishedAt: r.published_at ?? null,
  };
}

/**
 * Splits web-search text into the unquoted words trigram matching may use and the excluded words,
 * so a fuzzy match can never bring back a course the query excludes.
 */
export function parseSearch(text: string): SearchText {
  const positive: string[] = [];
  const negative: string[] = [];
  for (const token of text.match(/-?"[^"]*"?|\S+/g) ?? []) {
    const excluded = token.startsWith('-') && token.length > 1;
    const word = token.replace(/^-/, '').replace(/"/g, '').trim();
    if (!word || (!excluded && word.toLowerCase() === 'or')) continue;
    // A quoted phrase asks for exactly that text, so it takes no part in fuzzy matching.
    if (!excluded && token.startsWith('"')) continue;
    (excluded ? negative : positive).push(word);
  }
  return { text, positive: positive.join(' '), negative: negative.join(' or ') };
}

// Keys are Postgres text of the sort column; checked so a forged cursor is a 400, not a SQL error.
const keyPatterns: Record<BrowseSort, RegExp> = {
  relevance: /^-?\d{1,9}(\.\d{1,6})?$/,
  newest: /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)?$/,
  popular: /^-?\d{1,10}$/,
  rating: /^\d(\.\d{1,2})?$/,
  price_asc: /^-?\d{1,10}$/,
  price_desc: /^-?\d{1,10}$/,
};

function encodeCursor(sort: BrowseSort, row: SqlRow): string {
  return Buffer.from(JSON.stringify({ s: sort, k: row.sort_key, i: row.id })).toString('base64url');
}

function decodeCursor(value: string, sort: BrowseSort): Keyset {
  const invalid = () =>
    new ValidationError('Invalid input data', [
      { field: 'querystring.cursor', message: 'Invalid cursor for this query and sort' },
    ]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const c = parsed as { s?: unknown; k?: unknown; i?: unknown } | null;
  if (
    !c ||
    c.s !== sort ||
    typeof c.k !== 'string' ||
    !keyPatterns[sort].test(c.k) ||
    !Number.isInteger(c.i) ||
    (c.i as number) < 1 ||
    (c.i as number) > 2_147_483_647
  ) {
    throw invalid();
  }
  return { key: c.k, id: c.i as number };
}

function filtersOf(query: ListCoursesQuery): BrowseFilters {
  return {
    q: query.q === undefined ? undefined : parseSearch(query.q),
    category: query.category,
    tags: query.tags,
    difficulty: query.difficulty,
    language: query.language,
    minPriceMinor: query.minPrice,
    maxPriceMinor: query.maxPrice,
    free: query.free,
    minRating: query.minRating,
    instructorId: query.instructor,
  };
}

function toFacets(rows: SqlRow[]) {
  const of = (facet: string) => rows.filter((r) => r.facet === facet);
  const byCount = (a: { count: number }, b: { count: number }) => b.count - a.count;
  return {
    category: of('category')
      .map((r) => ({
        id: Number(r.value),
        name: r.name as string,
        slug: r.slug as string,
        count: r.n as number,
      }))
      .sort((a, b) => byCount(a, b) || a.name.localeCompare(b.name)),
    difficulty: of('difficulty')
      .map((r) => ({ value: r.value as string, count: r.n as number }))
      .sort((a, b) => byCount(a, b) || a.value.localeCompare(b.value)),
    language: of('language')
      .map((r) => ({ value: r.value as string, count: r.n as number }))
      .sort((a, b) => byCount(a, b) || a.value.localeCompare(b.value)),
    price: of('price')
      .map((r) => ({ band: r.value as PriceBand, count: r.n as number }))
      .sort((a, b) => bandOrder.indexOf(a.band) - bandOrder.indexOf(b.band)),
  };
}

function toPage(rows: SqlRow[], facets: SqlRow[], sort: BrowseSort, limit: number) {
  const page = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return {
    items: page.map(toSummary),
    pageInfo: { nextCursor: hasMore ? encodeCursor(sort, page.at(-1)!) : null, hasMore },
    facets: toFacets(facets),
  };
}

/**
 * Catalog listing, search, autocomplete and popular courses. Listings are cached as the JSON text of
 * their `data`, validated against the route's schema when filled, so a hit is sent without parsing,
 * validating or serialising it again; each process also keeps a short-lived local copy.
 */
export function createCatalogBrowse({ db, cache }: CatalogBrowseDeps) {
  const cached = <S extends z.ZodType>(
    kind: string,
    query: unknown,
    schema: S,
    load: () => Promise<z.output<S>>,
  ) =>
    cache.getOrLoadJson(
      catalogCache.listingKey(kind, query),
      {
        ttlSeconds: catalogCache.TTL_SECONDS,
        tags: [catalogCache.listingTag],
        localTtlSeconds: catalogCache.LOCAL_TTL_SECONDS,
      },
      async () => JSON.stringify(z.encode(schema, await load())),
    );

  async function loadPage(query: ListCoursesQuery) {
    const sort: BrowseSort = query.sort ?? 'newest';
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort);
    const filters = filtersOf(query);
    const rows = await browseRepo.listCoursePage(db, { filters, sort, after, limit: query.limit });
    const facets = await browseRepo.countFacets(db, filters);
    return { ...toPage(rows, facets, sort, query.limit), facetsExhaustive: true };
  }

  return {
    /**
     * One page of published courses with facets, without `q`, as the JSON text of the route's `data`.
     * Cached (dropped on any visible course or category change).
     */
    async listCoursesJson(query: ListCoursesQuery) {
      // Validate the cursor before the cache, so a bad one is a 400 and never a cached entry.
      if (query.cursor !== undefined) decodeCursor(query.cursor, query.sort ?? 'newest');
      return cached('courses', query, coursePage, () => loadPage(query));
    },

    /**
     * A search (`q` given): one page with facets, never cached (the key space is unbounded). Typo
     * tolerance joins when full-text finds fewer than FUZZY_BELOW published courses.
     */
    async search(query: ListCoursesQuery & { q: string }) {
      const sort: BrowseSort = query.sort ?? 'relevance';
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort);
      const filters = { ...filtersOf(query), q: parseSearch(query.q) };
      const params = { filters, sort, after, limit: query.limit };
      let result = await browseRepo.searchCourses(db, params);
      if (result.exactMatches < browseRepo.FUZZY_BELOW) {
        const fuzzy = { ...params, filters: { ...filters, q: { ...filters.q, fuzzy: true } } };
        result = await browseRepo.withSearchSettings(db, (tx) => browseRepo.searchCourses(tx, fuzzy));
      }
      return {
        ...toPage(result.rows, result.facets, sort, query.limit),
        facetsExhaustive: result.exhaustive,
      };
    },

    /** Seed 002's catalog list: exactly its item fields, newest first; JSON text of `data`, cached. */
    async catalogListJson(query: CatalogListQuery) {
      return cached('list', query, catalogList, async () => {
        const rows = await browseRepo.listCoursePage(db, {
          filters: {
            category: query.category,
            difficulty: query.difficulty,
            maxDurationMinutes: query.duration,
          },
          sort: 'newest',
          limit: query.limit - 1,
        });
        return {
          courses: rows.map((r) => ({
            courseId: r.id as number,
            title: r.title as string,
            instructor: r.instructor_name as string,
            rating: Number(r.rating),
            duration: r.duration_minutes as number,
            category: (r.category_name as string | null) ?? null,
            coverImageUrl: (r.cover_image_url as string | null) ?? null,
            description: r.description as string,
            price: major(r.price_minor),
            difficulty: r.difficulty as Difficulty,
          })),
        };
      });
    },

    /** Most enrolled published courses, then best rated; JSON text of `data`, cached. */
    async popularJson(limit: number) {
      return cached('popular', { limit }, popularCourses, async () => ({
        items: (await browseRepo.listPopularCourses(db, limit)).map(toSummary),
      }));
    },

    /**
     * Autocomplete for the search box: up to 5 course titles and 5 instructors starting with `q`
     * (the text or one of its words); typo-tolerant matches fill the lists when `q` has at least
     * SUGGEST_FUZZY_MIN_LENGTH characters and prefixes found too few.
     */
    async suggest(q: string) {
      const LIMIT = 5;
      let [courses, instructors] = [
        await browseRepo.suggestCourses(db, q, LIMIT),
        await browseRepo.suggestInstructors(db, q, LIMIT),
      ];
      if (
        q.length >= browseRepo.SUGGEST_FUZZY_MIN_LENGTH &&
        (courses.length < LIMIT || instructors.length < LIMIT)
      ) {
        [courses, instructors] = await browseRepo.withSearchSettings(
          db,
          async (tx) => [
            courses.length < LIMIT
              ? [
                  ...courses,
                  ...(await browseRepo.suggestCourses(tx, q, LIMIT - courses.length, {
                    fuzzy: true,
                    exclude: courses.map((r) => r.id as number),
                  })),
                ]
              : courses,
            instructors.length < LIMIT
              ? [
                  ...instructors,
                  ...(await browseRepo.suggestInstructors(tx, q, LIMIT - instructors.length, {
                    fuzzy: true,
                    exclude: instructors.map((r) => r.owner_id as number),
                  })),
                ]
              : instructors,
          ],
          browseRepo.SUGGEST_SIMILARITY_THRESHOLD,
        );
      }
      return {
        courses: courses.map((r) => ({
          courseId: r.id as number,
          title: r.title as string,
          slug: r.slug as string,
        })),
        instructors: instructors.map((r) => ({
          userId: r.owner_id as number,
          name: r.instructor_name as string,
        })),
      };
    },
  };
}
export type CatalogBrowse = ReturnType<typeof createCatalogBrowse>;
