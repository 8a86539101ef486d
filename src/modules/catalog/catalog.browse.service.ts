import type { Cache } from '../../platform/cache.ts';
import type { Db, SqlRow } from '../../platform/db.ts';
import { ValidationError } from '../../platform/errors.ts';
import * as browseRepo from './catalog.browse.repository.ts';
import type { BrowseFilters, Keyset, SearchText } from './catalog.browse.repository.ts';
import type {
  BrowseSort,
  CatalogListQuery,
  CourseSummary,
  ListCoursesQuery,
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

/** Catalog listing, search, autocomplete and popular courses, with cached listings. */
export function createCatalogBrowse({ db, cache }: CatalogBrowseDeps) {
  const cached = <T>(kind: string, query: unknown, load: () => Promise<T>) =>
    cache.getOrLoad(
      catalogCache.listingKey(kind, query),
      { ttlSeconds: catalogCache.TTL_SECONDS, tags: [catalogCache.listingTag] },
      load,
    );

  async function loadPage(query: ListCoursesQuery) {
    const sort: BrowseSort = query.sort ?? (query.q ? 'relevance' : 'newest');
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort);
    const filters = filtersOf(query);
    const run = async (tx: typeof db) => {
      const rows = await browseRepo.listCoursePage(tx, { filters, sort, after, limit: query.limit });
      const facets = await browseRepo.countFacets(tx, filters);
      return { rows, facets };
    };
    const { rows, facets } = filters.q
      ? await browseRepo.withSearchSettings(db, async (tx) => {
          const q = filters.q!;
          const exact = await browseRepo.countFullTextMatches(tx, q, browseRepo.FUZZY_BELOW);
          filters.q = { ...q, fuzzy: exact < browseRepo.FUZZY_BELOW };
          return run(tx as typeof db);
        })
      : await run(db);
    const page = rows.slice(0, query.limit);
    const hasMore = rows.length > query.limit;
    return {
      items: page.map(toSummary),
      pageInfo: { nextCursor: hasMore ? encodeCursor(sort, page.at(-1)!) : null, hasMore },
      facets: toFacets(facets),
    };
  }

  return {
    /**
     * One page of published courses with facets. Pages without `q` are cached (dropped on any
     * visible course or category change); searches are not, as their key space is unbounded.
     */
    async listCourses(query: ListCoursesQuery) {
      if (query.q !== undefined) return loadPage(query);
      // Validate the cursor before the cache, so a bad one is a 400 and never a cached entry.
      if (query.cursor !== undefined) decodeCursor(query.cursor, query.sort ?? 'newest');
      return cached('courses', query, () => loadPage(query));
    },

    /** Seed 002's catalog list: exactly its item fields, newest first. */
    async catalogList(query: CatalogListQuery) {
      return cached('list', query, async () => {
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

    /** Most enrolled published courses, then best rated; cached. */
    async popular(limit: number) {
      return cached('popular', { limit }, async () => ({
        items: (await browseRepo.listPopularCourses(db, limit)).map(toSummary),
      }));
    },

    /** Autocomplete for the search box: up to 5 course titles and 5 instructors. */
    async suggest(q: string) {
      return browseRepo.withSearchSettings(db, async (tx) => {
        const courses = await browseRepo.suggestCourses(tx, q, 5);
        const instructors = await browseRepo.suggestInstructors(tx, q, 5);
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
      });
    },
  };
}
export type CatalogBrowse = ReturnType<typeof createCatalogBrowse>;
