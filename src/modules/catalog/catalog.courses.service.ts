import { isUniqueViolation, type Tx } from '../../platform/db.ts';
import { Conflict, Forbidden, NotFound, ValidationError, type ErrorDetail } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import { catalogCache } from './catalog.cache.ts';
import { buildCourseDetail, freeSlug, slugify } from './catalog.courses.detail.ts';
import * as coursesRepo from './catalog.courses.repository.ts';
import type { CreateCourseInput, UpdateCourseInput } from './catalog.courses.schemas.ts';
import { COURSE_ARCHIVED, COURSE_PUBLISHED, COURSE_UPDATED, type CourseEvent } from './catalog.events.ts';
import { coursePolicy } from './catalog.policy.ts';
import * as repo from './catalog.repository.ts';
import type { CourseRow } from './catalog.repository.ts';
import { adjustTagCounts } from './catalog.tags.ts';

export interface CourseServiceDeps {
  platform: Pick<Platform, 'db' | 'cache' | 'events' | 'storage' | 'logger' | 'config'>;
  identity: Pick<IdentityApi, 'getProfile'>;
}

/** Whether a course has enrollments; the enrollment module supplies the real check. */
export type EnrollmentCheck = (courseId: number) => Promise<boolean>;

type Need = 'edit' | 'manage';

const fieldError = (field: string, message: string) =>
  new ValidationError('Invalid input data', [{ field, message }]);

const eventOf = (row: CourseRow): CourseEvent => ({
  courseId: row.id,
  ownerId: row.ownerId,
  title: row.title,
  slug: row.slug,
});

/** Course authoring: create, read, edit, publish, archive, delete (items 1 and 3 of issue 4). */
export function createCourseService({ platform, identity }: CourseServiceDeps) {
  const { db, cache, events } = platform;
  // No enrollments exist until the enrollment module plugs its check in.
  let hasEnrollments: EnrollmentCheck = async () => false;

  async function findOrThrow(ref: string | number): Promise<CourseRow> {
    const row = await repo.findCourseByIdOrSlug(db, ref);
    if (!row) throw new NotFound('Course not found');
    return row;
  }

  /** Hidden courses are 404 to non-editors; a visible course they may not change is 403. */
  function assertAllowed(p: Principal | undefined, row: CourseRow, ids: number[], need: Need) {
    if (!coursePolicy.canSee(p, row, ids)) throw new NotFound('Course not found');
    const allowed = need === 'edit' ? coursePolicy.canEdit(p, row, ids) : coursePolicy.canManage(p, row);
    if (!allowed) throw new Forbidden('You cannot change this course');
  }

  /**
   * Runs `change` in a transaction with the course locked and the caller's right checked under the
   * lock, then drops the course's cached pages once the change committed.
   */
  async function withCourse<T>(
    p: Principal,
    ref: string | number,
    need: Need,
    change: (tx: Tx, row: CourseRow) => Promise<T>,
  ): Promise<T> {
    const found = await findOrThrow(ref);
    const result = await db.transaction(async (tx) => {
      const row = await repo.lockCourse(tx, found.id);
      if (!row) throw new NotFound('Course not found');
      assertAllowed(p, row, await repo.listCourseInstructorIds(tx, row.id), need);
      return change(tx, row);
    });
    await catalogCache.invalidateCourse(cache, found.id);
    return result;
  }

  async function editorDetail(courseId: number) {
    return buildCourseDetail(db, identity, await findOrThrow(courseId), true);
  }

  async function publicDetail(courseId: number) {
    return cache.getOrLoad(
      catalogCache.courseKey(courseId),
      { ttlSeconds: catalogCache.TTL_SECONDS, tags: [catalogCache.courseTag(courseId)] },
      async () => {
        const row = await repo.findCourseByIdOrSlug(db, courseId);
        // Undefined is never cached, so a hidden course is looked up afresh each time.
        return row?.status === 'published' ? buildCourseDetail(db, identity, row, false) : undefined;
      },
    );
  }

  async function assertCategory(categoryId: number | null | undefined, tx: Tx) {
    if (categoryId == null) return;
    if (!(await coursesRepo.findCategory(tx, categoryId))) {
      throw fieldError('body.categoryId', 'No such category');
    }
  }

  async function archiveLocked(tx: Tx, row: CourseRow) {
    await coursesRepo.updateCourse(tx, row.id, { status: 'archived', archivedAt: new Date() });
    await events.publish(tx, COURSE_ARCHIVED, eventOf(row));
  }

  async function removeObject(key: string | null) {
    if (!key) return;
    await platform.storage
      .delete(key)
      .catch((err: unknown) => platform.logger.warn({ err, key }, 'could not delete course cover'));
  }

  return {
    /** Creates a draft owned by the caller (instructors and admins only). */
    async create(p: Principal, input: CreateCourseInput) {
      if (!coursePolicy.canCreate(p)) throw new Forbidden('Only instructors and admins create courses');
      const owner = await identity.getProfile(p.userId);
      const base = input.slug ?? slugify(input.title);
      // A derived slug taken by a concurrent create is retried with the next free suffix.
      for (let attempt = 1; ; attempt++) {
        try {
          const row = await db.transaction(async (tx) => {
            await assertCategory(input.categoryId, tx);
            if (input.slug && (await coursesRepo.slugTaken(tx, input.slug))) {
              throw new Conflict('Slug already in use', {
                details: [{ field: 'body.slug', message: 'Taken' }],
              });
            }
            const slug = input.slug ?? (await freeSlug(tx, base));
            const created = await coursesRepo.insertCourseWithOwner(tx, {
              slug,
              title: input.title,
              subtitle: input.subtitle ?? null,
              description: input.description,
              categoryId: input.categoryId ?? null,
              tags: input.tags,
              difficulty: input.difficulty,
              language: input.language,
              priceMinor: Math.round(input.price * 100),
              currency: input.currency,
              ownerId: p.userId,
              instructorName: owner.name,
            });
            await adjustTagCounts(tx, [], input.tags);
            await repo.refreshSearchVector(tx, created.id);
            return created;
          });
          return editorDetail(row.id);
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          if (input.slug || attempt >= 3) throw new Conflict('Slug already in use');
        }
      }
    },

    /** A course by id or slug: published ones for anyone (cached), hidden ones for editors only. */
    async get(p: Principal | undefined, ref: string) {
      if (!p && /^\d{1,9}$/.test(ref)) {
        const cached = await publicDetail(Number(ref));
        if (cached) return cached;
        throw new NotFound('Course not found');
      }
      const row = await findOrThrow(ref);
      const ids = p ? await repo.listCourseInstructorIds(db, row.id) : [];
      if (coursePolicy.canEdit(p, row, ids)) return buildCourseDetail(db, identity, row, true);
      if (row.status !== 'published') throw new NotFound('Course not found');
      const detail = await publicDetail(row.id);
      if (!detail) throw new NotFound('Course not found');
      return detail;
    },

    /** Changes any of the create fields (owner, co-instructors, admins). */
    async update(p: Principal, ref: string, input: UpdateCourseInput) {
      const id = await withCourse(p, ref, 'edit', async (tx, row) => {
        await assertCategory(input.categoryId, tx);
        if (input.slug !== undefined && (await coursesRepo.slugTaken(tx, input.slug, row.id))) {
          throw new Conflict('Slug already in use', { details: [{ field: 'body.slug', message: 'Taken' }] });
        }
        await coursesRepo.updateCourse(tx, row.id, {
          title: input.title,
          subtitle: input.subtitle,
          description: input.description,
          categoryId: input.categoryId,
          tags: input.tags,
          difficulty: input.difficulty,
          language: input.language,
          priceMinor: input.price === undefined ? undefined : Math.round(input.price * 100),
          currency: input.currency,
          slug: input.slug,
        });
        if (input.tags) await adjustTagCounts(tx, row.tags, input.tags);
        await repo.refreshSearchVector(tx, row.id);
        if (row.status === 'published') {
          const after = await repo.lockCourse(tx, row.id);
          await events.publish(tx, COURSE_UPDATED, eventOf(after!));
        }
        return row.id;
      }).catch((err: unknown) => {
        // A concurrent edit took the slug between the check and the write.
        throw isUniqueViolation(err) ? new Conflict('Slug already in use') : err;
      });
      return editorDetail(id);
    },

    /** Draft or archived → published, once it has a title, a description and a lesson. */
    async publish(p: Principal, ref: string) {
      const id = await withCourse(p, ref, 'manage', async (tx, row) => {
        if (row.status === 'published') throw new Conflict('Course is already published');
        const missing: ErrorDetail[] = [];
        if (!row.title.trim()) missing.push({ field: 'title', message: 'A title is required' });
        if (!row.description.trim()) {
          missing.push({ field: 'description', message: 'A description is required' });
        }
        if ((await coursesRepo.countLessons(tx, row.id)) === 0) {
          missing.push({ field: 'lessons', message: 'At least one lesson is required' });
        }
        if (missing.length > 0) throw new ValidationError('Course is not ready to publish', missing);
        await coursesRepo.updateCourse(tx, row.id, {
          status: 'published',
          publishedAt: row.publishedAt ?? new Date(),
          archivedAt: null,
        });
        await events.publish(tx, COURSE_PUBLISHED, eventOf(row));
        return row.id;
      });
      return editorDetail(id);
    },

    /** Published or draft → archived; archived courses are 404 to the public. */
    async archive(p: Principal, ref: string) {
      const id = await withCourse(p, ref, 'manage', async (tx, row) => {
        if (row.status === 'archived') throw new Conflict('Course is already archived');
        await archiveLocked(tx, row);
        return row.id;
      });
      return editorDetail(id);
    },

    /** Deletes a never-published draft without enrollments; any other course is archived instead. */
    async remove(p: Principal, ref: string) {
      const found = await findOrThrow(ref);
      // Asked before the transaction: the check belongs to another module and its own connection.
      const enrolled = await hasEnrollments(found.id);
      let coverKey: string | null = null;
      const outcome = await withCourse(p, found.id, 'manage', async (tx, row) => {
        if (row.status === 'draft' && !row.publishedAt && !enrolled) {
          coverKey = row.coverImageKey;
          await adjustTagCounts(tx, row.tags, []);
          await coursesRepo.deleteCourse(tx, row.id);
          return { message: 'Course deleted', status: 'deleted' as const };
        }
        if (row.status !== 'archived') await archiveLocked(tx, row);
        const why = row.status === 'draft' ? 'it has enrollments' : 'it has been published';
        return { message: `Course archived (${why})`, status: 'archived' as const };
      });
      await removeObject(coverKey);
      return outcome;
    },

    /** Checks the caller's right up front (before a large upload is read or another module asked). */
    async assertCan(p: Principal, ref: string, need: Need) {
      const row = await findOrThrow(ref);
      assertAllowed(p, row, await repo.listCourseInstructorIds(db, row.id), need);
    },

    /** For the enrollment module: lets DELETE keep courses that have students. */
    setEnrollmentCheck(check: EnrollmentCheck) {
      hasEnrollments = check;
    },

    /** What other modules need to know about a course, or null. */
    async getCourse(courseId: number) {
      const row = await repo.findCourseByIdOrSlug(db, courseId);
      if (!row) return null;
      const [instructorIds, prerequisites] = await Promise.all([
        repo.listCourseInstructorIds(db, row.id),
        coursesRepo.listPrerequisites(db, row.id),
      ]);
      return {
        courseId: row.id,
        title: row.title,
        slug: row.slug,
        status: row.status,
        ownerId: row.ownerId,
        priceMinor: row.priceMinor,
        currency: row.currency,
        instructorIds,
        /**
         * Published courses a student must have completed before enrolling. A draft or archived
         * prerequisite cannot be taken (nor is it shown), so it does not bind.
         */
        prerequisiteIds: prerequisites.filter((p) => p.status === 'published').map((p) => p.courseId),
      };
    },

    withCourse,
    findOrThrow,
    assertAllowed,
    editorDetail,
    removeObject,
  };
}
export type CourseService = ReturnType<typeof createCourseService>;
