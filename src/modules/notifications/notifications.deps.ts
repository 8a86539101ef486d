import type { CatalogApi } from '../catalog/index.ts';
import type { CommerceApi } from '../commerce/index.ts';
import type { IdentityApi } from '../identity/index.ts';

/** One live enrollment whose student has shown no activity since `lastActivityAt`. */
export interface InactiveEnrollment {
  enrollmentId: number;
  userId: number;
  courseId: number;
  /** ISO 8601 UTC */
  enrolledAt: string;
  /** ISO 8601 UTC: the latest activity the enrollment module knows of (at least the enrollment itself). */
  lastActivityAt: string;
}

/**
 * What notifications reads from the enrollment module (its `api`). Kept narrow, so the module
 * depends on these four questions only.
 */
export interface EnrollmentReads {
  /** Up to `limit` user ids of a course's current students after `afterUserId`, ascending. */
  listStudentIds(courseId: number, afterUserId?: number, limit?: number): Promise<number[]>;
  /** Course ids of the user's live (not revoked) enrollments. */
  listCourseIds(userId: number): Promise<number[]>;
  /** Live, unfinished enrollments with no activity since `before`, in id order after `afterId`. */
  listInactiveEnrollments(query: {
    before: Date;
    afterId: number;
    limit: number;
  }): Promise<InactiveEnrollment[]>;
}

export type CatalogReads = Pick<CatalogApi, 'getCourse'>;
export type IdentityReads = Pick<IdentityApi, 'getProfile'>;
/** The PDF receipt the payment email carries. */
export type CommerceReads = Pick<CommerceApi, 'receiptAttachment'>;
