/**
 * Query plans of the catalog's listing and search at scale: runs the real browse service against
 * DATABASE_URL (seed it first: `lectern seed --courses 100000`), captures every SQL statement it
 * issues, and EXPLAIN ANALYZEs each one. Writes bench/results/<stamp>-catalog-explain.md.
 *
 *   DATABASE_URL=postgres://root@127.0.0.1:5432/lectern_100k node --import tsx bench/explain-catalog.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { catalogListQuery, listCoursesQuery } from '../src/modules/catalog/catalog.browse.schemas.ts';
import { createCatalogBrowse } from '../src/modules/catalog/catalog.browse.service.ts';
import { createCache } from '../src/platform/cache.ts';
import type { Db } from '../src/platform/db.ts';
import { createMetrics } from '../src/platform/metrics.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required (a database seeded with lectern seed --courses N)');

const captured: Array<{ query: string; params: unknown[] }> = [];
const pool = new pg.Pool({ connectionString: url, max: 2 });
const db = drizzle(pool, {
  logger: { logQuery: (query, params) => void captured.push({ query, params }) },
}) as unknown as Db;
const browse = createCatalogBrowse({
  db,
  cache: createCache({ keyPrefix: 'explain:', metrics: createMetrics() }),
});

const search = (query: Record<string, string>) => {
  const parsed = listCoursesQuery.parse(query);
  return browse.search({ ...parsed, q: parsed.q ?? '' });
};

const cases: Array<[string, () => Promise<unknown>]> = [
  ['catalog page, newest', () => browse.listCoursesJson(listCoursesQuery.parse({ limit: '20' }))],
  ['search "python"', () => search({ q: 'python', limit: '20' })],
  ['search "practical" (matches ~40%)', () => search({ q: 'practical', limit: '20' })],
  ['search "kubernetes workshop"', () => search({ q: 'kubernetes workshop', limit: '20' })],
  ['search "python" sorted by price', () => search({ q: 'python', sort: 'price_asc', limit: '20' })],
  ['search "pyhton" (typo)', () => search({ q: 'pyhton', limit: '20' })],
  [
    'filters: category + difficulty, price_asc',
    () =>
      browse.listCoursesJson(
        listCoursesQuery.parse({
          category: 'programming',
          difficulty: 'Beginner',
          sort: 'price_asc',
          limit: '20',
        }),
      ),
  ],
  ['sort popular', () => browse.listCoursesJson(listCoursesQuery.parse({ sort: 'popular', limit: '20' }))],
  [
    'seed 002 list (Beginner)',
    () => browse.catalogListJson(catalogListQuery.parse({ difficulty: 'Beginner' })),
  ],
  ['suggest "pyt"', () => browse.suggest('pyt')],
];

const client = await pool.connect();
const {
  rows: [{ n }],
} = await client.query('select count(*)::int as n from catalog.courses where status = $1', ['published']);
const lines = [
  `# Catalog query plans — ${new Date().toISOString()}`,
  '',
  `${n} published courses; PostgreSQL; EXPLAIN (ANALYZE, BUFFERS) of every statement the browse service runs.`,
  '',
];
const summary: string[] = [
  '| case | statement | top plan node | indexes used | execution ms |',
  '| --- | --- | --- | --- | ---: |',
];
for (const [name, run] of cases) {
  captured.length = 0;
  await run();
  const statements = captured.filter(
    (c) => /^\s*(select|with)/i.test(c.query) && !/set_config/.test(c.query),
  );
  for (const [i, s] of statements.entries()) {
    await client.query('begin');
    await client.query(`select set_config('pg_trgm.word_similarity_threshold', '0.25', true)`);
    const plan = (
      await client.query(`explain (analyze, buffers, format text) ${s.query}`, s.params)
    ).rows.map((r) => r['QUERY PLAN'] as string);
    await client.query('rollback');
    const exec = plan.find((l) => l.startsWith('Execution Time'))?.match(/([\d.]+) ms/)?.[1] ?? '?';
    const indexes = [
      ...new Set(
        plan.flatMap((l) =>
          [...l.matchAll(/(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?(?:using|on) (\w+)/g)].map(
            (m) => m[1],
          ),
        ),
      ),
    ];
    summary.push(
      `| ${name} | ${i + 1} | ${plan[0]!.trim().split('  (')[0]} | ${indexes.join(', ') || '—'} | ${exec} |`,
    );
    lines.push(
      `## ${name} — statement ${i + 1}`,
      '',
      '```sql',
      s.query,
      '```',
      '',
      '```',
      ...plan,
      '```',
      '',
    );
  }
}
client.release();
await pool.end();
const stamp = new Date()
  .toISOString()
  .replace(/\.\d+Z$/, 'Z')
  .replace(/:/g, '-');
const out = path.join(fileURLToPath(new URL('.', import.meta.url)), 'results', `${stamp}-catalog-explain.md`);
writeFileSync(out, [...lines.slice(0, 4), ...summary, '', ...lines.slice(4)].join('\n'));
console.log(summary.join('\n'));
console.log(`\nFull plans: ${path.relative(process.cwd(), out)}`);
