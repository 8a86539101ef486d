import type { Principal } from '../../platform/http/auth.ts';

/** The course facts the policy needs (from `catalog.getCourse`). */
export interface CourseStaff {
  ownerId: number;
  instructorIds: number[];
}

const DAY_MS = 86_400_000;

/** Who may do what with enrollments. Deny by default. */
export const enrollmentPolicy = {
  /** The course's owner and co-instructors (not admins: callers add that where it applies). */
  isInstructorOf: (p: Principal, course: CourseStaff) =>
    course.ownerId === p.userId || course.instructorIds.includes(p.userId),

  /** Owner, co-instructors and admins: see the students and the full content of a course. */
  isCourseStaff: (p: Principal, course: CourseStaff) =>
    p.role === 'admin' || enrollmentPolicy.isInstructorOf(p, course),

  /** Students enroll themselves; admins enroll anyone, without payment, prerequisites or verification. */
  canEnroll: (p: Principal, userId: number) => p.role === 'admin' || p.userId === userId,

  /** The student, the course's staff and admins. `course` is null once the course is gone. */
  canView: (p: Principal, enrollment: { userId: number }, course: CourseStaff | null) =>
    p.role === 'admin' ||
    enrollment.userId === p.userId ||
    (course !== null && enrollmentPolicy.isInstructorOf(p, course)),
};

export interface DripLesson {
  isPreview: boolean;
  releaseAfterDays: number | null;
  releaseAt: Date | null;
}

/**
 * When a lesson opens for a student enrolled at `enrolledAt` (drip): `releaseAfterDays` counts
 * from the enrollment, `releaseAt` is the same instant for everyone. Preview lessons are public,
 * so drip never hides them.
 */
export function lessonRelease(
  lesson: DripLesson,
  enrolledAt: Date,
  now: Date = new Date(),
): { open: true } | { open: false; availableAt: Date } {
  if (lesson.isPreview) return { open: true };
  const availableAt =
    lesson.releaseAt ??
    (lesson.releaseAfterDays !== null
      ? new Date(enrolledAt.getTime() + lesson.releaseAfterDays * DAY_MS)
      : null);
  if (availableAt === null || availableAt.getTime() <= now.getTime()) return { open: true };
  return { open: false, availableAt };
}
