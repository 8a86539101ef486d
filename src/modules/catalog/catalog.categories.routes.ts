import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  category,
  categoryIdParams,
  categoryTree,
  createCategoryBody,
  deletedCategory,
  tagList,
  tagsQuery,
  updateCategoryBody,
} from './catalog.categories.schemas.ts';
import type { CatalogCategories } from './catalog.categories.service.ts';

/** The category tree (public read, admin writes) and tag suggestions. */
export function catalogCategoryRoutes(categories: CatalogCategories) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: [guard.authenticate, guard.requireRole('admin')] };

    r.get(
      '/categories',
      {
        schema: {
          operationId: 'listCategories',
          tags: ['catalog'],
          summary: 'The category tree',
          description:
            'Top-level categories with nested `children`, each level ordered by position then name. `courseCount` counts published courses in the category and its subcategories.',
          response: responses({ data: categoryTree }),
        },
      },
      async () => successBody(await categories.tree()),
    );

    r.post(
      '/categories',
      {
        ...admin,
        schema: {
          operationId: 'createCategory',
          tags: ['catalog'],
          summary: 'Create a category (admin)',
          description:
            'Without `slug`, one is derived from the name (with a numeric suffix if taken); an explicit slug in use is 409. `parentId` must name an existing category (400). `position` defaults to after the last sibling.',
          security: bearerSecurity,
          body: createCategoryBody,
          response: responses({ status: 201, data: category }, [401, 403, 409]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await categories.create(request.body));
      },
    );

    r.patch(
      '/categories/:id',
      {
        ...admin,
        schema: {
          operationId: 'updateCategory',
          tags: ['catalog'],
          summary: 'Rename, re-slug, move or reorder a category (admin)',
          description:
            '`parentId: null` makes it top-level. Moving a category under itself or one of its subcategories is 409, as is a slug in use.',
          security: bearerSecurity,
          params: categoryIdParams,
          body: updateCategoryBody,
          response: responses({ data: category }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await categories.update(request.params.id, request.body)),
    );

    r.delete(
      '/categories/:id',
      {
        ...admin,
        schema: {
          operationId: 'deleteCategory',
          tags: ['catalog'],
          summary: 'Delete an empty category (admin)',
          description: 'Refused (409) while it has subcategories or courses of any status.',
          security: bearerSecurity,
          params: categoryIdParams,
          response: responses({ data: deletedCategory }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await categories.remove(request.params.id)),
    );

    r.get(
      '/tags',
      {
        schema: {
          operationId: 'listTags',
          tags: ['catalog'],
          summary: 'Suggest tags',
          description:
            'Tags starting with `q` first, then similar ones (trigram similarity), each group most used first; without `q`, the most used tags. `limit` 1–50, default 10.',
          querystring: tagsQuery,
          response: responses({ data: tagList }),
        },
      },
      async (request) => successBody(await categories.tags(request.query)),
    );
  };
}
