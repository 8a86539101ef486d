import type { FastifyInstance, FastifyReply } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  catalogList,
  catalogListQuery,
  coursePage,
  listCoursesQuery,
  popularCourses,
  popularQuery,
  suggestions,
  suggestQuery,
} from './catalog.browse.schemas.ts';
import type { CatalogBrowse } from './catalog.browse.service.ts';

/**
 * Sends cached `data` JSON text inside the success envelope. A body that is already bytes skips
 * Fastify's serializer: the text was validated against the route's schema when the cache was filled.
 * The envelope up to the timestamp is encoded once per text (each process's cached copy is one string
 * object, so the lookup is cheap); encoding ~15 KB of text per answer was the largest single cost of a
 * cached page in a CPU profile.
 */
function createDataSender() {
  const heads = new LRUCache<string, Buffer>({ max: 200 });
  return (reply: FastifyReply, json: string) => {
    let head = heads.get(json);
    if (!head) heads.set(json, (head = Buffer.from(`{"status":"success","data":${json},"timestamp":"`)));
    const tail = Buffer.from(`${new Date().toISOString()}"}`, 'latin1');
    return reply
      .type('application/json; charset=utf-8')
      .send(Buffer.concat([head, tail], head.length + tail.length));
  };
}

/** Public catalog: listing with search and facets, seed 002's list, popular courses, autocomplete. */
export function catalogBrowseRoutes(browse: CatalogBrowse) {
  return async function routes(app: FastifyInstance, _ctx: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const sendData = createDataSender();

    r.get(
      '/courses',
      {
        schema: {
          operationId: 'listCourses',
          tags: ['catalog'],
          summary: 'Browse and search published courses',
          description:
            'Filters combine with AND. `category` includes subcategories; `tags` must all be present; prices are in major units of each course’s own currency. Sorts: `relevance` (default with `q`; needs `q`), `newest` (default without), `popular` (enrollments), `rating`, `price_asc`, `price_desc`. Keyset pagination: pass `pageInfo.nextCursor` with the same query; pages stay stable while courses are published in between. `facets` count the courses matching `q` and the filters, each facet ignoring its own filter. Pages without `q` are cached until a course or category changes; searches with `q` are computed on every request. A search ranks by relevance, and counts in `facets`, at most the first 1,000 matches found (200 for typo-tolerant matching; `facetsExhaustive` is then false); other sorts page through every match.',
          querystring: listCoursesQuery,
          response: responses({ data: coursePage }),
        },
      },
      async (request, reply) => {
        const { q } = request.query;
        if (q !== undefined) return successBody(await browse.search({ ...request.query, q }));
        return sendData(reply, await browse.listCoursesJson(request.query));
      },
    );

    r.get(
      '/courses/catalog/list',
      {
        schema: {
          operationId: 'listCatalog',
          tags: ['catalog'],
          summary: 'Seed 002 catalog list',
          description:
            'Published courses, newest first, with seed 002’s item fields. `category` is a category slug or name (case-insensitive) and includes its subcategories; `duration` is the maximum duration in minutes; `limit` 1–100 (default 50). `price` is in major units; `category` is the category name or null. Cached until a course or category changes.',
          querystring: catalogListQuery,
          response: responses({ data: catalogList }),
        },
      },
      async (request, reply) => sendData(reply, await browse.catalogListJson(request.query)),
    );

    r.get(
      '/courses/popular',
      {
        schema: {
          operationId: 'listPopularCourses',
          tags: ['catalog'],
          summary: 'Most popular published courses',
          description: 'Most enrolled first, then best rated; `limit` 1–50 (default 10). Cached.',
          querystring: popularQuery,
          response: responses({ data: popularCourses }),
        },
      },
      async (request, reply) => sendData(reply, await browse.popularJson(request.query.limit)),
    );

    r.get(
      '/search/suggest',
      {
        schema: {
          operationId: 'suggestSearch',
          tags: ['catalog'],
          summary: 'Autocomplete for the search box',
          description:
            'Up to 5 published course titles and 5 instructors whose names start with, or closely resemble, `q` (at least 2 characters).',
          querystring: suggestQuery,
          response: responses({ data: suggestions }),
        },
      },
      async (request) => successBody(await browse.suggest(request.query.q)),
    );
  };
}
