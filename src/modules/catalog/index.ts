import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import { USER_UPDATED, type UserUpdated } from '../identity/index.ts';
import { catalogCache } from './catalog.cache.ts';
import * as repo from './catalog.repository.ts';

export * from './catalog.events.ts';

export interface CatalogDeps {
  platform: Platform;
  identity: Pick<IdentityApi, 'getProfile'>;
}

/** The catalog module: courses, curriculum, categories, tags, search. Other modules use `api` only. */
export function createCatalogModule({ platform, identity }: CatalogDeps) {
  void identity;
  const routePlugins: Array<(app: FastifyInstance, ctx: RouteContext) => Promise<void>> = [];

  // Instructor names are copied onto courses for listing and search; keep them in step.
  platform.events.subscribe<UserUpdated>({
    event: USER_UPDATED,
    consumer: 'catalog.renameInstructor',
    handle: async (event, tx) => {
      const ids = await repo.renameInstructor(tx, event.payload.userId, event.payload.name);
      for (const id of ids) await catalogCache.invalidateCourse(platform.cache, id);
    },
  });

  // (features are wired here)

  return {
    api: {},
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type CatalogModule = ReturnType<typeof createCatalogModule>;
export type CatalogApi = CatalogModule['api'];
