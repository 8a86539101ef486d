import { Forbidden, NotFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi, LessonAccess, LessonGate } from '../catalog/index.ts';
import { enrollmentPolicy, lessonRelease } from './enrollment.policy.ts';
import * as repo from './enrollment.repository.ts';
import type { ContentLesson, CourseContent } from './enrollment.schemas.ts';

export interface EnrollmentContentDeps {
  platform: Pick<Platform, 'db'>;
  catalog: Pick<CatalogApi, 'getCourse' | 'getCourseContent'>;
}

type CatalogLesson = NonNullable<
  Awaited<ReturnType<CatalogApi['getCourseContent']>>
>['sections'][number]['lessons'][number];

/** What enrolled students may read: lesson bodies once released (drip), for catalog and for `/content`. */
export function createEnrollmentContent({ platform, catalog }: EnrollmentContentDeps) {
  const { db } = platform;

  /** A lesson as the caller sees it: open (with body) or locked until `availableAt`. */
  function view(lesson: CatalogLesson, enrolledAt: Date | null, now: Date): ContentLesson {
    const {
      body,
      resources,
      locked: _locked,
      courseId: _courseId,
      createdAt: _c,
      updatedAt: _u,
      ...rest
    } = lesson;
    const release =
      enrolledAt === null
        ? ({ open: true } as const) // staff and admins
        : lessonRelease(
            { ...rest, releaseAt: rest.releaseAt === null ? null : new Date(rest.releaseAt) },
            enrolledAt,
            now,
          );
    if (release.open) return { ...rest, locked: false, body, resources };
    return { ...rest, locked: true, availableAt: release.availableAt.toISOString() };
  }

  return {
    /** Catalog's lesson access check (`GET /api/lessons/{id}`): enrolled (not revoked) and released. */
    async checkLessonAccess(userId: number, lesson: LessonGate): Promise<LessonAccess> {
      const enrollment = await repo.findLiveEnrollment(db, userId, lesson.courseId);
      if (!enrollment) return { status: 'not_enrolled' };
      const release = lessonRelease(lesson, enrollment.enrolledAt);
      return release.open ? { status: 'open' } : { status: 'not_released', availableAt: release.availableAt };
    },

    /**
     * `GET /api/courses/{id}/content`: the whole curriculum with the bodies of released lessons, for
     * enrolled students (also after the course is archived), the course's staff and admins.
     */
    async getCourseContent(principal: Principal, courseId: number): Promise<CourseContent> {
      const course = await catalog.getCourse(courseId);
      if (!course) throw new NotFound('Course not found');
      const staff = enrollmentPolicy.isCourseStaff(principal, course);
      const enrollment = staff ? undefined : await repo.findLiveEnrollment(db, principal.userId, courseId);
      if (!staff && (!enrollment || course.status === 'draft')) {
        if (course.status !== 'published') throw new NotFound('Course not found');
        throw new Forbidden('Enroll in this course to read its content');
      }
      const content = await catalog.getCourseContent(courseId);
      if (!content) throw new NotFound('Course not found'); // deleted meanwhile
      const now = new Date();
      return {
        courseId: content.courseId,
        title: content.title,
        enrollmentId: enrollment?.id ?? null,
        sections: content.sections.map((s) => ({
          sectionId: s.sectionId,
          title: s.title,
          position: s.position,
          lessons: s.lessons.map((l) => view(l, enrollment?.enrolledAt ?? null, now)),
        })),
      };
    },
  };
}
export type EnrollmentContent = ReturnType<typeof createEnrollmentContent>;
