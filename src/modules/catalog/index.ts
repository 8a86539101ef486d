import type { FastifyInstance } from 'fastify';
import type { Tx } from '../../platform/db.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import { USER_UPDATED, type UserUpdated } from '../identity/index.ts';
import {
  ENROLLMENT_CREATED,
  ENROLLMENT_REVOKED,
  type EnrollmentCreated,
  type EnrollmentRevoked,
} from '../enrollment/index.ts';
import { catalogCache } from './catalog.cache.ts';
import * as coursesRepo from './catalog.courses.repository.ts';
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
export type { LessonAccess, LessonAccessCheck, LessonGate } from './catalog.policy.ts';

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

  // Popularity (the `popular` sort) counts live enrollments. Only the course's own cache entry is
  // dropped: listings pick the new order up within their TTL instead of being flushed per enrollment.
  const countEnrollment = async (tx: Tx, courseId: number, delta: 1 | -1) => {
    await coursesRepo.adjustEnrollmentCount(tx, courseId, delta);
    await platform.cache.delByTag(catalogCache.courseTag(courseId));
  };
  platform.events.subscribe<EnrollmentCreated>({
    event: ENROLLMENT_CREATED,
    consumer: 'catalog.countEnrollment',
    handle: (event, tx) => countEnrollment(tx, event.payload.courseId, 1),
  });
  platform.events.subscribe<EnrollmentRevoked>({
    event: ENROLLMENT_REVOKED,
    consumer: 'catalog.uncountEnrollment',
    handle: (event, tx) => countEnrollment(tx, event.payload.courseId, -1),
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
      /** Lets the enrollment module open lesson bodies to enrolled students (with drip). */
      setLessonAccessCheck: curriculum.setLessonAccessCheck,
      /** A course's sections and lessons in order with bodies, or null (enrolled students' content). */
      getCourseContent: curriculum.getCourseContent,
      /** Id, title, slug and status of the existing courses among `ids` (titles for lists). */
      getCourseSummaries: (ids: number[]) => coursesRepo.listCourseSummaries(platform.db, ids),
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
