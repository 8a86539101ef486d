import type { Principal } from '../../platform/http/auth.ts';
import type { CourseRow } from './catalog.repository.ts';

/**
 * Who may do what with a course. Deny by default. `instructorIds` are the owner and
 * co-instructors (catalog.course_instructors).
 */
export const coursePolicy = {
  /** Instructors and admins create courses; students never do. */
  canCreate: (p: Principal | undefined) => p?.role === 'instructor' || p?.role === 'admin',

  /** Owner, co-instructors and admins edit content and curriculum. */
  canEdit: (p: Principal | undefined, course: CourseRow, instructorIds: number[]) =>
    Boolean(p && (p.role === 'admin' || instructorIds.includes(p.userId))),

  /** Only the owner and admins publish, archive and delete. */
  canManage: (p: Principal | undefined, course: CourseRow) =>
    Boolean(p && (p.role === 'admin' || course.ownerId === p.userId)),

  /** Published courses are public; drafts and archived courses only for those who can edit them. */
  canSee: (p: Principal | undefined, course: CourseRow, instructorIds: number[]) =>
    course.status === 'published' || coursePolicy.canEdit(p, course, instructorIds),

  /** Enrolled students keep reading a course after it is archived (they bought it); never a draft. */
  staysOpenToEnrolled: (course: CourseRow) => course.status !== 'draft',

  /** Full lesson bodies: editors always, everyone for preview lessons of a visible course. */
  canReadLessonBody: (
    p: Principal | undefined,
    course: CourseRow,
    instructorIds: number[],
    isPreview: boolean,
  ) => coursePolicy.canEdit(p, course, instructorIds) || (course.status === 'published' && isPreview),
};

/** What the enrollment module is told about a lesson a signed-in non-editor wants to read. */
export interface LessonGate {
  lessonId: number;
  courseId: number;
  isPreview: boolean;
  releaseAfterDays: number | null;
  releaseAt: Date | null;
}

/** The enrollment module's answer: open, not enrolled, or enrolled but not released yet (drip). */
export type LessonAccess =
  { status: 'open' } | { status: 'not_enrolled' } | { status: 'not_released'; availableAt: Date };

/** Decides whether a user may read a lesson's body; the enrollment module supplies the real check. */
export type LessonAccessCheck = (userId: number, lesson: LessonGate) => Promise<LessonAccess>;
