import type { Principal } from '../../platform/http/auth.ts';
import type { CatalogReads, EnrollmentReads } from './notifications.deps.ts';

/**
 * Who may message whom through `POST /api/notifications/send` (deny by default): admins anyone;
 * instructors only students with a live enrollment in a course they own or co-teach; nobody else.
 */
export function createNotificationsPolicy(deps: {
  catalog: CatalogReads;
  enrollment: Pick<EnrollmentReads, 'listCourseIds'>;
}) {
  return {
    canSendAtAll: (sender: Principal) => sender.role === 'admin' || sender.role === 'instructor',

    async maySendTo(sender: Pick<Principal, 'userId' | 'role'>, recipientId: number): Promise<boolean> {
      if (sender.role === 'admin') return true;
      if (sender.role !== 'instructor') return false;
      for (const courseId of await deps.enrollment.listCourseIds(recipientId)) {
        const course = await deps.catalog.getCourse(courseId);
        if (course && (course.ownerId === sender.userId || course.instructorIds.includes(sender.userId)))
          return true;
      }
      return false;
    },

    /** Own log always; anyone's for admins. */
    mayReadLogOf: (reader: Principal, userId: number) => reader.role === 'admin' || reader.userId === userId,
  };
}
export type NotificationsPolicy = ReturnType<typeof createNotificationsPolicy>;
