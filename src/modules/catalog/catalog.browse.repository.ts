import { sql, type SQL } from 'drizzle-orm';
import type { DbOrTx, SqlRow } from '../../platform/db.ts';
import type { BrowseSort } from './catalog.browse.schemas.ts';

/** A parsed `q`: the web-search text, its positive words (for trigram matching) and its excluded words. */
export interface SearchText {
  text: string;
  positive: string;
  negative: string;
  /**
   * Whether typo-tolerant trigram matching joins the full-text match. Set only when full-text
   * finds few courses: trigram branches on common words match a large share of the catalog and
   * cost hundreds of milliseconds at 100k courses, while a misspelling finds nothing by full-text.
   */
  fuzzy?: boolean;
}

/** Full-text matches are counted up to this many; fewer means the query is likely misspelt. */
export const FUZZY_BELOW = 10;

/**
 * Most matches a search ranks by relevance and counts in its facets: the first this many the indexes
 * find. Ranking and counting read every candidate row, so without a cap a common word (a few percent
 * of 100k courses) cost ~100 ms per search; past the cap, relevance is best-of-the-candidates and
 * facet counts cover the candidates only (the response says so).
 */
export const SEARCH_CANDIDATES = 1000;

/**
 * The cap when typo tolerance is on. Each trigram candidate costs several word-similarity
 * computations (~50 µs), and loose trigram matches of a misspelt word are mostly noise, so the
 * closest of the first 200 are as useful as the closest of 1,000 at a fifth of the cost.
 */
export const FUZZY_CANDIDATES = 200;

export interface BrowseFilters {
  q?: SearchText;
  category?: string;
  tags?: string[];
  difficulty?: string;
  language?: string;
  minPriceMinor?: number;
  maxPriceMinor?: number;
  free?: boolean;
  minRating?: number;
  instructorId?: number;
  maxDurationMinutes?: number;
}

/** Keyset position: the sort key as Postgres text (exact, no float or time-zone rounding) and the id. */
export interface Keyset {
  key: string;
  id: number;
}

/**
 * Word-similarity threshold for typo tolerance. Transpositions in short words share few trigrams
 * ("pyhton" vs "Python" scores 0.29), so it sits below pg_trgm's default of 0.6; the ranking
 * still puts full-text matches first.
 */
const WORD_SIMILARITY_THRESHOLD = '0.25';

async function rows(db: DbOrTx, query: SQL): Promise<SqlRow[]> {
  return ((await db.execute(query)) as unknown as { rows: SqlRow[] }).rows;
}

/**
 * Runs `fn` in a read transaction whose trigram threshold allows typo matches, so the `%>` operator
 * keeps using the GIN trigram indexes (a `word_similarity(...) > x` predicate would not).
 */
export async function withSearchSettings<T>(
  db: DbOrTx,
  fn: (tx: DbOrTx) => Promise<T>,
  threshold: string = WORD_SIMILARITY_THRESHOLD,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('pg_trgm.word_similarity_threshold', ${threshold}, true)`);
    return fn(tx);
  });
}

/** Ids of the category named by slug or name (case-insensitive) and all its descendants. */
const categorySubtree = (category: string) => sql`(
  with recursive sub(id) as (
    select id from catalog.categories where lower(slug) = lower(${category}) or lower(name) = lower(${category})
    union
    select ch.id from catalog.categories ch join sub on ch.parent_id = sub.id
  ) select id from sub)`;

const tsQuery = (q: SearchText) => sql`websearch_to_tsquery('english', ${q.text})`;

/**
 * The same query restricted to title words (weight A of `search_vector`): every lexeme of the
 * parsed query gets `:A`. Parsed again with the `simple` configuration, so the already stemmed
 * lexemes are not stemmed twice. The GIN index finds the candidates and rechecks the weights.
 */
const titleTsQuery = (q: SearchText) =>
  sql`to_tsquery('simple', regexp_replace(${tsQuery(q)}::text, '''((?:[^'']|'''')+)''', '''\\1'':A', 'g'))`;

/**
 * What the text matches on a course `c`: full-text, then (when fuzzy) a trigram-close title, then a
 * trigram-close instructor name. Callers run each condition as its own scan so each uses its index;
 * an OR of the three on one scan made PostgreSQL fall back to a sequential scan evaluating trigram
 * similarity on every row (EXPLAIN at 100k courses).
 */
function textConditions(q: SearchText): SQL[] {
  const conditions = [sql`c.search_vector @@ ${tsQuery(q)}`];
  // Every word must be close to some word of the title (or name), as every word must match in
  // full-text; one trigram test on the whole phrase let any title sharing one word through.
  const words = q.positive
    .split(/\s+/)
    .filter((w) => w.length >= 3)
    .slice(0, 5);
  if (q.fuzzy && words.length) {
    const all = (column: SQL) =>
      sql.join(
        words.map((w) => sql`${column} %> ${w}`),
        sql` and `,
      );
    conditions.push(all(sql`c.title`), all(sql`c.instructor_name`));
  }
  return conditions;
}

/** Exclusions bind the fuzzy matches too, or "python -django" would bring Django back by trigrams. */
const exclusion = (q: SearchText) =>
  q.negative ? [sql`not (c.search_vector @@ websearch_to_tsquery('english', ${q.negative}))`] : [];

/** Courses matching the text, as one condition on `c` (exact pages sorted by something else than relevance). */
function textMatch(q: SearchText): SQL {
  const branches = textConditions(q).map((cond) => sql`select c.id from catalog.courses c where ${cond}`);
  return and([sql`c.id in (${sql.join(branches, sql` union `)})`, ...exclusion(q)]);
}

/** Weighted relevance: an exact title first, then full-text rank, then title and name closeness. */
export function relevance(q: SearchText): SQL {
  const words = q.positive || q.text.replace(/"/g, '');
  if (!q.fuzzy) {
    return sql`round((
    case when lower(c.title) = lower(${words}) then 10 else 0 end
    + ts_rank_cd(c.search_vector, ${tsQuery(q)}, 32) * 4
  )::numeric, 6)`;
  }
  return sql`round((
    case when lower(c.title) = lower(${words}) then 10 else 0 end
    + ts_rank_cd(c.search_vector, ${tsQuery(q)}, 32) * 4
    + word_similarity(${words}, c.title) * 2
    + word_similarity(${words}, c.instructor_name) * 0.5
  )::numeric, 6)`;
}

const bandCase = sql`case when c.price_minor = 0 then 'free' when c.price_minor < 2000 then 'under_20'
  when c.price_minor < 5000 then '20_50' when c.price_minor < 10000 then '50_100' else 'over_100' end`;

const TRUE = sql`true`;
const and = (parts: SQL[]) => (parts.length ? sql`(${sql.join(parts, sql` and `)})` : TRUE);

/** The filters a facet may ignore, apart from the rest, so each facet can leave out its own. */
function facetable(f: BrowseFilters) {
  const price: SQL[] = [];
  if (f.free) price.push(sql`c.price_minor = 0`);
  if (f.minPriceMinor !== undefined) price.push(sql`c.price_minor >= ${f.minPriceMinor}`);
  if (f.maxPriceMinor !== undefined) price.push(sql`c.price_minor <= ${f.maxPriceMinor}`);
  return {
    category: f.category ? sql`c.category_id in ${categorySubtree(f.category)}` : TRUE,
    difficulty: f.difficulty ? sql`c.difficulty = ${f.difficulty}::catalog.difficulty` : TRUE,
    language: f.language ? sql`lower(c.language) = lower(${f.language})` : TRUE,
    price: and(price),
  };
}

/** Every filter but the text and the facetable ones. */
function baseFilters(f: BrowseFilters): SQL[] {
  const parts = [sql`c.status = 'published'`];
  if (f.tags?.length) parts.push(sql`c.tags @> string_to_array(${f.tags.join(',')}, ',')`);
  if (f.minRating !== undefined) parts.push(sql`c.rating_avg >= ${f.minRating}`);
  if (f.instructorId !== undefined) parts.push(sql`c.owner_id = ${f.instructorId}`);
  if (f.maxDurationMinutes !== undefined) parts.push(sql`c.duration_minutes <= ${f.maxDurationMinutes}`);
  return parts;
}

function common(f: BrowseFilters): SQL {
  return and(f.q ? [...baseFilters(f), textMatch(f.q)] : baseFilters(f));
}

const sortSpec: Record<Exclude<BrowseSort, 'relevance'>, { key: SQL; cast: string; desc: boolean }> = {
  newest: { key: sql`c.published_at`, cast: 'timestamptz', desc: true },
  popular: { key: sql`c.enrollment_count`, cast: 'int', desc: true },
  rating: { key: sql`c.rating_avg`, cast: 'numeric', desc: true },
  price_asc: { key: sql`c.price_minor`, cast: 'int', desc: false },
  price_desc: { key: sql`c.price_minor`, cast: 'int', desc: true },
};

const specOf = (sort: BrowseSort, q?: SearchText) =>
  sort === 'relevance' ? { key: relevance(q!), cast: 'numeric', desc: true } : sortSpec[sort];

const summaryColumns = sql`c.id, c.slug, c.title, c.subtitle, c.description, c.owner_id, c.instructor_name,
  c.category_id, cat.name as category_name, cat.slug as category_slug, c.tags, c.difficulty::text as difficulty,
  c.language, c.price_minor, c.currency, c.rating_avg::float8 as rating, c.rating_count, c.duration_minutes,
  c.cover_image_url,
  to_char(c.published_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as published_at`;

export interface PageParams {
  filters: BrowseFilters;
  sort: BrowseSort;
  after?: Keyset;
  limit: number;
}

/** The keyset condition and order of a page sorted on `key`, then on `id` (the same direction). */
function keysetOf(key: SQL, spec: { cast: string; desc: boolean }, after?: Keyset, id = sql`c.id`) {
  const cast = sql.raw(spec.cast);
  const dir = sql.raw(spec.desc ? 'desc' : 'asc');
  const condition = after
    ? spec.desc
      ? sql`(${key}, ${id}) < (${after.key}::${cast}, ${after.id}::int)`
      : sql`(${key}, ${id}) > (${after.key}::${cast}, ${after.id}::int)`
    : TRUE;
  return { condition, order: sql`${key} ${dir}, ${id} ${dir}` };
}

/** A keyset page over every match (`limit + 1` rows, so the caller sees whether more follow). */
function exactPage({ filters, sort, after, limit }: PageParams): SQL {
  const spec = specOf(sort, filters.q);
  const f = facetable(filters);
  const keyset = keysetOf(spec.key, spec, after);
  return sql`select ${summaryColumns}, (${spec.key})::text as sort_key
      from catalog.courses c left join catalog.categories cat on cat.id = c.category_id
      where ${common(filters)} and ${f.category} and ${f.difficulty} and ${f.language} and ${f.price}
        and ${keyset.condition}
      order by ${keyset.order}
      limit ${limit + 1}`;
}

/** One keyset page of published courses (`limit + 1` rows, so the caller sees whether more follow). */
export async function listCoursePage(db: DbOrTx, params: PageParams): Promise<SqlRow[]> {
  return rows(db, exactPage(params));
}

/**
 * Facet counts over `base`, a relation with category_id, difficulty, language, band and the f_* flags
 * of facetable(). Each facet ignores its own filter (the usual drill-down: choosing `Beginner` still
 * shows how many `Advanced` courses match) but applies all others.
 */
const facetCounts = (base: SQL) => {
  // One pass over `base`: a grouping set per facet, each counting with the other facets' filters.
  const is = (column: string) => sql.raw(`grouping(${column}) = 0`);
  return sql`
    select g.facet, g.value, cat.name, cat.slug, g.n from (
      select
        case when ${is('category_id')} then 'category' when ${is('difficulty')} then 'difficulty'
          when ${is('language')} then 'language' else 'price' end as facet,
        case when ${is('category_id')} then category_id::text when ${is('difficulty')} then difficulty
          when ${is('language')} then language else band end as value,
        (case when ${is('category_id')} then count(*) filter (where f_diff and f_lang and f_price)
          when ${is('difficulty')} then count(*) filter (where f_cat and f_lang and f_price)
          when ${is('language')} then count(*) filter (where f_cat and f_diff and f_price)
          else count(*) filter (where f_cat and f_diff and f_lang) end)::int as n
      from ${base} b group by grouping sets ((category_id), (difficulty), (language), (band))
    ) g left join catalog.categories cat on g.facet = 'category' and cat.id::text = g.value
    where g.n > 0 and (g.facet <> 'category' or cat.id is not null)`;
};

const facetColumns = (f: ReturnType<typeof facetable>) =>
  sql`c.category_id, c.difficulty::text as difficulty, c.language, ${bandCase} as band,
    ${f.category} as f_cat, ${f.difficulty} as f_diff, ${f.language} as f_lang, ${f.price} as f_price`;

/** Facet counts over every published course matching the filters (listings without `q`). */
export async function countFacets(db: DbOrTx, filters: BrowseFilters): Promise<SqlRow[]> {
  const f = facetable(filters);
  return rows(
    db,
    sql`with base as (select ${facetColumns(f)} from catalog.courses c where ${common(filters)})
      ${facetCounts(sql`base`)}`,
  );
}

export interface SearchResult {
  /** Published full-text matches of `q`, ignoring the filters, counted up to FUZZY_BELOW. */
  exactMatches: number;
  /** Whether the candidates are all the matches (fewer than the cap were found). */
  exhaustive: boolean;
  rows: SqlRow[];
  facets: SqlRow[];
}

/**
 * A search page and its facets in one statement. The candidates are the first SEARCH_CANDIDATES
 * (FUZZY_CANDIDATES with typo tolerance) courses matching `q` and the non-facet filters, found
 * branch by branch (exact title, title words, full text, then the fuzzy branches), each excluding
 * what an earlier branch matched, so no course appears twice and the scan stops at the cap. Facets
 * count the candidates; a relevance page ranks them; a page in any other order is read exactly
 * from all matches.
 */
export async function searchCourses(
  db: DbOrTx,
  params: PageParams & { filters: BrowseFilters & { q: SearchText } },
): Promise<SearchResult> {
  const { filters, sort, after, limit } = params;
  const q = filters.q;
  const f = facetable(filters);
  const conditions = textConditions(q);
  const cap = q.fuzzy ? FUZZY_CANDIDATES : SEARCH_CANDIDATES;
  // Courses titled exactly like the query come first (courses_title_lower_idx), then courses whose
  // title matches it, so that the cap, which keeps the first matches the text index finds (in table
  // order), fills with title matches before courses that only mention the words further down.
  const exactTitle = sql`lower(c.title) = lower(${q.positive || q.text.replace(/"/g, '')})`;
  const titleMatch = sql`c.search_vector @@ ${titleTsQuery(q)}`;
  const ordered = [exactTitle, titleMatch, ...conditions];
  const branches = ordered.map((condition, i) => {
    // Each branch leaves out what an earlier one matched, so no course takes two of the cap's places
    // (which would also make `exhaustive` claim complete facets for a cut-off result).
    const earlier = ordered.slice(0, i).map((e) => sql`(${e}) is not true`);
    const where = and([...baseFilters(filters), condition, ...earlier, ...exclusion(q)]);
    return sql`select c.id, ${facetColumns(f)}, ${relevance(q)} as rank from catalog.courses c where ${where}`;
  });
  let page: SQL;
  if (sort === 'relevance') {
    // Rank the candidates first and join the course columns for the page's rows only.
    const keyset = keysetOf(sql`cand.rank`, { cast: 'numeric', desc: true }, after, sql`cand.id`);
    page = sql`select ${summaryColumns}, top.rank::text as sort_key
      from (select cand.id, cand.rank from cand
        where cand.f_cat and cand.f_diff and cand.f_lang and cand.f_price and ${keyset.condition}
        order by ${keyset.order} limit ${limit + 1}) top
      join catalog.courses c on c.id = top.id left join catalog.categories cat on cat.id = c.category_id
      order by top.rank desc, top.id desc`;
  } else {
    page = exactPage(params);
  }
  const [result] = await rows(
    db,
    sql`with cand as materialized (
        select distinct on (m.id) * from (
          select * from (${sql.join(branches, sql` union all `)}) u limit ${cap}) m),
      page as (select p.*, row_number() over () as position from (${page}) p),
      facets as (${facetCounts(sql`cand`)})
      select
        -- Unfiltered full-text matches, up to FUZZY_BELOW: only needed (and only scanned: an unused
        -- InitPlan never runs) when this search's own candidates are fewer, as they are a subset.
        case when ${q.fuzzy ? sql`false` : sql`(select count(*) from cand) >= ${FUZZY_BELOW}`}
          then ${FUZZY_BELOW}
          else (select count(*)::int from (select 1 from catalog.courses c
            where c.status = 'published' and c.search_vector @@ ${tsQuery(q)} limit ${FUZZY_BELOW}) e)
        end as exact,
        (select count(*)::int from cand) as candidates,
        coalesce((select json_agg(page order by position) from page), '[]'::json) as rows,
        coalesce((select json_agg(facets) from facets), '[]'::json) as facets`,
  );
  return {
    exactMatches: Number(result?.exact ?? 0),
    exhaustive: Number(result?.candidates ?? 0) < cap,
    rows: (result?.rows ?? []) as SqlRow[],
    facets: (result?.facets ?? []) as SqlRow[],
  };
}

/** Published courses, most enrolled first, then best rated. */
export async function listPopularCourses(db: DbOrTx, limit: number): Promise<SqlRow[]> {
  return rows(
    db,
    sql`select ${summaryColumns}
      from catalog.courses c left join catalog.categories cat on cat.id = c.category_id
      where c.status = 'published'
      order by c.enrollment_count desc, c.rating_avg desc, c.id desc
      limit ${limit}`,
  );
}

const likePrefix = (s: string) => `${s.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

/** `LIKE` pattern for a word of the text starting with `s` (not the first word: see likePrefix). */
const likeWordPrefix = (s: string) => `% ${likePrefix(s)}`;
/** Trigram matching needs this many characters to be selective (shorter inputs match half the catalog). */
export const SUGGEST_FUZZY_MIN_LENGTH = 4;
/** Autocomplete's trigram threshold: stricter than search's, as it only fills up a short list. */
export const SUGGEST_SIMILARITY_THRESHOLD = '0.5';

/**
 * Autocomplete: published course titles by prefix (the title's, then any word's), most enrolled
 * first; with `fuzzy` (run inside withSearchSettings) titles close to `q` by trigrams instead,
 * leaving out `exclude`. Callers try the prefix first and go fuzzy only to fill the list.
 */
export async function suggestCourses(
  db: DbOrTx,
  q: string,
  limit: number,
  options: { fuzzy?: boolean; exclude?: number[] } = {},
): Promise<SqlRow[]> {
  if (options.fuzzy) {
    const exclude = options.exclude?.length ? sql`and c.id <> all(${sql.param(options.exclude)})` : sql``;
    return rows(
      db,
      sql`select c.id, c.title, c.slug from catalog.courses c
        where c.status = 'published' and c.title %> ${q} ${exclude}
        order by word_similarity(${q}, c.title) desc, c.enrollment_count desc, c.id desc
        limit ${limit}`,
    );
  }
  return rows(
    db,
    sql`select c.id, c.title, c.slug from catalog.courses c
      where c.status = 'published' and (c.title ilike ${likePrefix(q)} or c.title ilike ${likeWordPrefix(q)})
      order by (c.title ilike ${likePrefix(q)}) desc, c.enrollment_count desc, c.id desc
      limit ${limit}`,
  );
}

/**
 * Autocomplete: distinct instructors of published courses whose name (or a word of it) starts with
 * `q`; with `fuzzy` (run inside withSearchSettings) names close to `q` by trigrams, leaving out `exclude`.
 */
export async function suggestInstructors(
  db: DbOrTx,
  q: string,
  limit: number,
  options: { fuzzy?: boolean; exclude?: number[] } = {},
): Promise<SqlRow[]> {
  if (options.fuzzy) {
    const exclude = options.exclude?.length
      ? sql`and c.owner_id <> all(${sql.param(options.exclude)})`
      : sql``;
    return rows(
      db,
      sql`select c.owner_id, c.instructor_name from catalog.courses c
        where c.status = 'published' and c.instructor_name %> ${q} ${exclude}
        group by c.owner_id, c.instructor_name
        order by max(word_similarity(${q}, c.instructor_name)) desc, c.instructor_name
        limit ${limit}`,
    );
  }
  return rows(
    db,
    sql`select c.owner_id, c.instructor_name from catalog.courses c
      where c.status = 'published'
        and (c.instructor_name ilike ${likePrefix(q)} or c.instructor_name ilike ${likeWordPrefix(q)})
      group by c.owner_id, c.instructor_name
      order by bool_or(c.instructor_name ilike ${likePrefix(q)}) desc, c.instructor_name
      limit ${limit}`,
  );
}
