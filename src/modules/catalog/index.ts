import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import { USER_UPDATED, type UserUpdated } from '../identity/index.ts';
import { catalogCache } from './catalog.cache.ts';
import * as repo from './catalog.repository.ts';
import { createCourseExtras } from './catalog.courses.extras.ts';
import { courseRoutes } from './catalog.courses.routes.ts';
import { createCourseService } from './catalog.courses.service.ts';
import { generateCourses, seedDemoCatalog, type SeedInstructor } from './catalog.seed.ts';
import { catalogBrowseRoutes } from './catalog.browse.routes.ts';
import { createCatalogBrowse } from './catalog.browse.service.ts';
import { catalogCategoryRoutes } from './catalog.categories.routes.ts';
import { curriculumRoutes } from './catalog.curriculum.routes.ts';
import { createCurriculumService } from './catalog.curriculum.service.ts';
import { createCatalogCategories } from './catalog.categories.service.ts';

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
  const courseService = createCourseService({ platform, identity });
  const courseExtras = createCourseExtras({ platform, identity, courses: courseService });
  routePlugins.push(courseRoutes(courseService, courseExtras));
  const categoriesService = createCatalogCategories({ db: platform.db, cache: platform.cache });
  routePlugins.push(catalogCategoryRoutes(categoriesService));
  const browse = createCatalogBrowse({ db: platform.db, cache: platform.cache });
  routePlugins.push(catalogBrowseRoutes(browse));
  const curriculum = createCurriculumService({ platform });
  routePlugins.push(curriculumRoutes(curriculum));

  return {
    api: {
      /** A course's id, title, status, owner, price (minor units) and instructors, or null. */
      getCourse: courseService.getCourse,
      /** Lets the enrollment module stop DELETE from removing a draft that has students. */
      setEnrollmentCheck: courseService.setEnrollmentCheck,
      /** A lesson's course, status, preview flag and drip release, or null (enrollment and progress). */
      getLessonAccessInfo: curriculum.getLessonAccessInfo,
      /** A course's lessons in curriculum order with durations and drip release. */
      listCourseLessons: curriculum.listCourseLessons,
    },
    /** Demo and benchmark data, for `lectern seed`. */
    seed: {
      demo: (instructors: SeedInstructor[]) => seedDemoCatalog(platform.db, instructors),
      generate: (options: Parameters<typeof generateCourses>[1]) => generateCourses(platform.db, options),
    },
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type CatalogModule = ReturnType<typeof createCatalogModule>;
export type CatalogApi = CatalogModule['api'];
