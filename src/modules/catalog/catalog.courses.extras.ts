import { sniffImageType } from '../../platform/http/upload.ts';
import { Conflict, NotFound, UnsupportedMediaType, ValidationError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import * as coursesRepo from './catalog.courses.repository.ts';
import type { CourseService } from './catalog.courses.service.ts';
import { coursePolicy } from './catalog.policy.ts';
import * as repo from './catalog.repository.ts';

export const MAX_COVER_BYTES = 5 * 1024 * 1024;
/** How long the cover redirect's target stays valid. */
export const COVER_LINK_SECONDS = 300;

export interface CourseExtrasDeps {
  platform: Pick<Platform, 'db' | 'storage' | 'config'>;
  identity: Pick<IdentityApi, 'getProfile'>;
  courses: CourseService;
}

/** Co-instructors, prerequisites and the cover image of a course. */
export function createCourseExtras({ platform, identity, courses }: CourseExtrasDeps) {
  const { db, storage } = platform;

  return {
    /** Adds an instructor or admin as co-instructor (owner and admins only). */
    async addInstructor(p: Principal, ref: string, userId: number) {
      // Checked before the transaction: identity answers from its own connection.
      await courses.assertCan(p, ref, 'manage');
      const profile = await identity.getProfile(userId).catch(() => undefined);
      if (!profile)
        throw new ValidationError('Invalid input data', [{ field: 'body.userId', message: 'No such user' }]);
      if (profile.role !== 'instructor' && profile.role !== 'admin') {
        throw new ValidationError('Invalid input data', [
          { field: 'body.userId', message: 'Only instructors and admins can teach a course' },
        ]);
      }
      const id = await courses.withCourse(p, ref, 'manage', async (tx, row) => {
        const current = await repo.listCourseInstructorIds(tx, row.id);
        if (current.includes(userId)) throw new Conflict('Already an instructor of this course');
        await coursesRepo.insertCoInstructor(tx, row.id, userId);
        return row.id;
      });
      return courses.editorDetail(id);
    },

    /** Removes a co-instructor; the owner cannot be removed. */
    async removeInstructor(p: Principal, ref: string, userId: number) {
      const id = await courses.withCourse(p, ref, 'manage', async (tx, row) => {
        if (userId === row.ownerId) throw new Conflict('The owner cannot be removed from the course');
        if (!(await coursesRepo.deleteCoInstructor(tx, row.id, userId))) {
          throw new NotFound('Not a co-instructor of this course');
        }
        return row.id;
      });
      return courses.editorDetail(id);
    },

    /** Replaces the courses this course requires; refuses unknown ones, itself and cycles. */
    async setPrerequisites(p: Principal, ref: string, courseIds: number[]) {
      const id = await courses.withCourse(p, ref, 'edit', async (tx, row) => {
        await coursesRepo.lockPrerequisiteGraph(tx);
        const found = new Map((await coursesRepo.findCoursesByIds(tx, courseIds)).map((c) => [c.id, c]));
        const details: Array<{ field: string; message: string }> = [];
        for (const [i, requiredId] of courseIds.entries()) {
          const field = `body.courseIds.${i}`;
          const other = found.get(requiredId);
          if (requiredId === row.id) details.push({ field, message: 'A course cannot require itself' });
          // A hidden course the caller cannot edit is reported as missing, like everywhere else.
          else if (
            !other ||
            (other.status !== 'published' &&
              !coursePolicy.canEdit(
                p,
                { ...row, ...other },
                await repo.listCourseInstructorIds(tx, other.id),
              ))
          ) {
            details.push({ field, message: 'No such course' });
          }
        }
        if (details.length > 0) throw new ValidationError('Invalid input data', details);
        if (await coursesRepo.reachesCourse(tx, courseIds, row.id)) {
          throw new Conflict('These prerequisites would form a cycle');
        }
        await coursesRepo.replacePrerequisites(tx, row.id, courseIds);
        await coursesRepo.updateCourse(tx, row.id, {});
        return row.id;
      });
      return courses.editorDetail(id);
    },

    /** Stores a new cover checked by magic bytes and drops the previous one after commit. */
    async uploadCover(p: Principal, ref: string, bytes: Buffer) {
      if (bytes.length === 0) {
        throw new ValidationError('Invalid input data', [
          { field: 'body.cover', message: 'The file is empty' },
        ]);
      }
      const type = sniffImageType(bytes);
      if (!type) throw new UnsupportedMediaType('The cover must be a PNG, JPEG or WebP image');
      const key = storage.newKey('covers', type.ext);
      await storage.put(key, bytes, { contentType: type.contentType });
      let oldKey: string | null = null;
      try {
        const id = await courses.withCourse(p, ref, 'edit', async (tx, row) => {
          oldKey = row.coverImageKey;
          await coursesRepo.updateCourse(tx, row.id, {
            coverImageKey: key,
            coverImageUrl: `${platform.config.publicUrl}/api/courses/${row.id}/cover`,
          });
          return row.id;
        });
        await courses.removeObject(oldKey);
        return courses.editorDetail(id);
      } catch (err) {
        await courses.removeObject(key);
        throw err;
      }
    },

    /** A short-lived signed link to a visible course's cover. */
    async coverLink(p: Principal | undefined, ref: string) {
      const row = await courses.findOrThrow(ref);
      const ids = p ? await repo.listCourseInstructorIds(db, row.id) : [];
      if (!coursePolicy.canSee(p, row, ids) || !row.coverImageKey) throw new NotFound('Cover not found');
      return storage.signedUrl(row.coverImageKey, { expiresInSeconds: COVER_LINK_SECONDS });
    },
  };
}
export type CourseExtras = ReturnType<typeof createCourseExtras>;
