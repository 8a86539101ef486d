import type { Tx } from '../../platform/db.ts';
import {
  AppError,
  Conflict,
  Forbidden,
  NotFound,
  PaymentRequired,
  ValidationError,
  type ErrorDetail,
} from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { OrderRefunded, PaymentSucceeded } from '../commerce/index.ts';
import type { IdentityApi } from '../identity/index.ts';
import {
  ENROLLMENT_CREATED,
  ENROLLMENT_REVOKED,
  type EnrollmentCreated,
  type EnrollmentRevoked,
} from './enrollment.events.ts';
import { enrollmentPolicy } from './enrollment.policy.ts';
import * as repo from './enrollment.repository.ts';
import type { EnrollmentRow } from './enrollment.repository.ts';
import type { EnrollInput, EnrollmentResult, ListQuery } from './enrollment.schemas.ts';
import { encodeIdCursor } from '../../platform/http/pagination.ts';

/** What enrollment needs to know about a payment (commerce's `getPayment`). */
export interface PaymentInfo {
  paymentId: number;
  transactionId: string;
  userId: number;
  courseId: number;
  orderId: number;
  status: 'pending' | 'success' | 'failed' | 'refunded';
  method: string;
}

export interface EnrollmentServiceDeps {
  platform: Pick<Platform, 'db' | 'events' | 'logger'>;
  identity: Pick<IdentityApi, 'getProfile' | 'audit'>;
  catalog: Pick<CatalogApi, 'getCourse' | 'getCourseSummaries'>;
  payments: { getPayment(paymentId: number): Promise<PaymentInfo | null> };
}

export interface RequestMeta {
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

/** 403 with the prerequisite courses still to complete, one detail each. */
export class PrerequisitesNotMet extends AppError {
  readonly statusCode = 403;
}

const ENROLLED = 'Enrollment successful';
const alreadyEnrolled = () => new Conflict('User already enrolled');
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Enrollments (seed 002's Enrollment Service): enroll by request or by a succeeded payment, revoke
 * on refund, and read them. Other modules are asked before a transaction opens, never inside one
 * (each answers on its own connection).
 */
export function createEnrollmentService({ platform, identity, catalog, payments }: EnrollmentServiceDeps) {
  const { db, events, logger } = platform;

  /**
   * Inserts the enrollment with its event, both in `tx` (the notifications module sends the
   * confirmation from the event); undefined if one exists.
   */
  async function create(tx: Tx, values: repo.NewEnrollment) {
    const row = await repo.insertEnrollmentIfAbsent(tx, values);
    if (!row) return undefined;
    await events.publish<EnrollmentCreated>(tx, ENROLLMENT_CREATED, {
      enrollmentId: row.id,
      userId: row.userId,
      courseId: row.courseId,
      source: row.source,
      paymentId: row.paymentId,
      orderId: row.orderId,
      enrolledAt: row.enrolledAt.toISOString(),
    });
    return row;
  }

  /** Every prerequisite the user has not completed yet, as 403 details. */
  async function assertPrerequisites(userId: number, prerequisiteIds: number[]) {
    const completed = new Set(await repo.listCompletedCourseIds(db, userId, prerequisiteIds));
    const missing = prerequisiteIds.filter((id) => !completed.has(id));
    if (missing.length === 0) return;
    const titles = new Map(
      (await catalog.getCourseSummaries(missing)).map((c) => [c.courseId, c.title] as const),
    );
    const details: ErrorDetail[] = missing.map((id) => ({
      field: 'body.courseId',
      message: `Complete course ${id}${titles.has(id) ? ` ("${titles.get(id)}")` : ''} first`,
    }));
    throw new PrerequisitesNotMet('Complete the prerequisite courses first', { details });
  }

  /** The payment a request names: this user's, for this course, succeeded. Others' payments are 404. */
  async function checkPayment(paymentId: number, userId: number, courseId: number): Promise<PaymentInfo> {
    const payment = await payments.getPayment(paymentId);
    if (!payment || payment.userId !== userId) throw new NotFound('Payment not found');
    if (payment.courseId !== courseId) {
      throw new ValidationError('Invalid input data', [
        { field: 'body.paymentId', message: 'This payment is for another course' },
      ]);
    }
    if (payment.status === 'pending') throw new PaymentRequired('Payment has not completed yet');
    if (payment.status === 'failed') throw new PaymentRequired('Payment failed; pay again to enroll');
    if (payment.status === 'refunded') throw new PaymentRequired('Payment was refunded');
    return payment;
  }

  /**
   * The answer when the user is enrolled already. An enrollment created from the same payment (the
   * automatic enrollment after payment got there first) is this request's success, not a conflict.
   */
  async function existingOutcome(userId: number, courseId: number, paymentId: number | null) {
    const live = await repo.findLiveEnrollment(db, userId, courseId);
    if (live && paymentId !== null && live.paymentId === paymentId) {
      return { enrollmentId: live.id, message: ENROLLED };
    }
    if (live) throw alreadyEnrolled();
    if (paymentId !== null && (await repo.findEnrollmentByPayment(db, paymentId))?.status === 'revoked') {
      throw new PaymentRequired('Payment was refunded');
    }
    throw alreadyEnrolled(); // the other enrollment was revoked between insert and look-up
  }

  function toResult(row: EnrollmentRow, courseTitle: string | null): EnrollmentResult {
    return {
      enrollmentId: row.id,
      userId: row.userId,
      courseId: row.courseId,
      courseTitle,
      enrollmentDate: row.enrolledAt.toISOString(),
      status: row.status,
      source: row.source,
      paymentId: row.paymentId,
      orderId: row.orderId,
      completedAt: iso(row.completedAt),
      revokedAt: iso(row.revokedAt),
      revokeReason: row.revokeReason,
    };
  }

  const pageOf = <T>(rows: T[], limit: number, idOf: (row: T) => number) => {
    const hasMore = rows.length > limit;
    const items = rows.slice(0, limit);
    return { items, pageInfo: { nextCursor: hasMore ? encodeIdCursor(idOf(items.at(-1)!)) : null, hasMore } };
  };

  return {
    /**
     * Seed 002's `POST /api/enrollments/enroll`. Students enroll themselves (verified email,
     * prerequisites completed, free course or a succeeded payment of theirs); admins enroll anyone.
     */
    async enroll(principal: Principal, input: EnrollInput, meta: RequestMeta) {
      const { userId, courseId } = input;
      const paymentId = input.paymentId ?? null;
      if (!enrollmentPolicy.canEnroll(principal, userId)) {
        throw new Forbidden('You can only enroll yourself');
      }
      const asAdmin = principal.role === 'admin';
      const course = await catalog.getCourse(courseId);
      if (!course || course.status !== 'published') throw new NotFound('Course not found');
      const profile = await identity.getProfile(userId);
      if (!asAdmin && !profile.isEmailVerified) throw new Forbidden('Verify your email address first');
      // Cheap early answer; the unique index decides under concurrency.
      if (await repo.findLiveEnrollment(db, userId, courseId)) {
        return existingOutcome(userId, courseId, paymentId);
      }
      if (!asAdmin) await assertPrerequisites(userId, course.prerequisiteIds);

      let values: repo.NewEnrollment;
      if (paymentId !== null) {
        const payment = await checkPayment(paymentId, userId, courseId);
        values = { userId, courseId, source: 'payment', paymentId, orderId: payment.orderId };
      } else if (course.priceMinor === 0) {
        values = { userId, courseId, source: 'free' };
      } else if (asAdmin) {
        values = { userId, courseId, source: 'admin' };
      } else {
        throw new PaymentRequired('Payment required');
      }

      const row = await db.transaction(async (tx) => {
        if (paymentId !== null) await repo.lockPaymentEnrollment(tx, paymentId);
        return create(tx, values);
      });
      if (!row) return existingOutcome(userId, courseId, paymentId);
      if (asAdmin && userId !== principal.userId) {
        await identity.audit({
          action: 'enrollment.admin_enrolled',
          actorId: principal.userId,
          subjectId: userId,
          ...meta,
          success: true,
          detail: JSON.stringify({ enrollmentId: row.id, courseId, source: row.source }),
        });
      }
      return { enrollmentId: row.id, message: ENROLLED };
    },

    /**
     * `commerce.payment.succeeded`: enrolls the buyer, once per payment. A user already enrolled
     * (free, by an admin, or by this payment) is left as is; a payment refunded before this ran
     * left a revoked placeholder, so nothing is created for it.
     */
    async enrollFromPayment(tx: Tx, payment: PaymentSucceeded) {
      await repo.lockPaymentEnrollment(tx, payment.paymentId);
      const row = await create(tx, {
        userId: payment.userId,
        courseId: payment.courseId,
        source: 'payment',
        paymentId: payment.paymentId,
        orderId: payment.orderId,
      });
      if (!row) {
        logger.info(
          { paymentId: payment.paymentId, userId: payment.userId, courseId: payment.courseId },
          'payment did not create an enrollment: already enrolled or refunded',
        );
      }
    },

    /**
     * `commerce.order.refunded`: revokes the enrollment the payment created. When the refund is
     * handled before the payment's enrollment (events run on separate queues), a revoked
     * placeholder takes the payment's unique slot, so the late enrollment cannot happen.
     */
    async revokeForRefund(tx: Tx, refund: OrderRefunded) {
      await repo.lockPaymentEnrollment(tx, refund.paymentId);
      const reason = `Order ${refund.orderId} refunded`;
      const revoked = await repo.revokeEnrollmentOfPayment(tx, refund.paymentId, reason);
      if (revoked) {
        await events.publish<EnrollmentRevoked>(tx, ENROLLMENT_REVOKED, {
          enrollmentId: revoked.id,
          userId: revoked.userId,
          courseId: revoked.courseId,
          paymentId: revoked.paymentId,
          orderId: revoked.orderId,
          reason,
        });
        return;
      }
      if (await repo.findEnrollmentByPayment(tx, refund.paymentId)) return; // revoked before
      const now = new Date();
      await repo.insertEnrollmentIfAbsent(tx, {
        userId: refund.userId,
        courseId: refund.courseId,
        source: 'payment',
        paymentId: refund.paymentId,
        orderId: refund.orderId,
        status: 'revoked',
        revokedAt: now,
        revokeReason: `${reason} before the enrollment was made`,
      });
    },

    /** Seed 002's `GET /api/enrollments/{id}`: the student, the course's staff, admins; 404 for others. */
    async get(principal: Principal, enrollmentId: number): Promise<EnrollmentResult> {
      const row = await repo.findEnrollment(db, enrollmentId);
      if (!row) throw new NotFound('Enrollment not found');
      const course = await catalog.getCourse(row.courseId);
      if (!enrollmentPolicy.canView(principal, row, course)) throw new NotFound('Enrollment not found');
      return toResult(row, course?.title ?? null);
    },

    /** The caller's enrollments, newest first. */
    async listMine(principal: Principal, query: ListQuery) {
      const rows = await repo.listUserEnrollments(db, principal.userId, {
        beforeId: query.cursor,
        limit: query.limit,
        status: query.status,
      });
      const page = pageOf(rows, query.limit, (r) => r.id);
      const ids = [...new Set(page.items.map((r) => r.courseId))];
      const titles = new Map((await catalog.getCourseSummaries(ids)).map((c) => [c.courseId, c.title]));
      return {
        items: page.items.map((r) => toResult(r, titles.get(r.courseId) ?? null)),
        pageInfo: page.pageInfo,
      };
    },

    /** A course's students with name and email, newest first: the course's staff and admins. */
    async listStudents(principal: Principal, courseId: number, query: ListQuery) {
      const course = await catalog.getCourse(courseId);
      if (!course) throw new NotFound('Course not found');
      if (!enrollmentPolicy.isCourseStaff(principal, course)) {
        // A hidden course stays hidden; a public one says why.
        if (course.status !== 'published') throw new NotFound('Course not found');
        throw new Forbidden('Only the course’s instructors and admins can list its students');
      }
      const rows = await repo.listCourseEnrollments(db, courseId, {
        beforeId: query.cursor,
        limit: query.limit,
        status: query.status,
      });
      const page = pageOf(rows, query.limit, (r) => r.id);
      // One page is at most 100 distinct users (one live enrollment each); looked up in parallel.
      const userIds = [...new Set(page.items.map((r) => r.userId))];
      const profiles = new Map(
        await Promise.all(
          userIds.map(async (id) => {
            const profile = await identity.getProfile(id).catch((err: unknown) => {
              if (err instanceof NotFound) return null;
              throw err;
            });
            return [id, profile] as const;
          }),
        ),
      );
      return {
        courseId,
        items: page.items.map((r) => {
          const profile = profiles.get(r.userId) ?? null;
          return {
            enrollmentId: r.id,
            userId: r.userId,
            name: profile?.name ?? null,
            email: profile?.email ?? null,
            status: r.status,
            source: r.source,
            enrollmentDate: r.enrolledAt.toISOString(),
            completedAt: iso(r.completedAt),
            revokedAt: iso(r.revokedAt),
          };
        }),
        pageInfo: page.pageInfo,
      };
    },

    /**
     * Commerce asks this before a checkout: an enrolled student cannot buy the course again (409),
     * and a student without the prerequisites cannot pay for a course they may not enter (403).
     */
    async assertCanBuy(userId: number, course: { courseId: number; prerequisiteIds: number[] }) {
      if (await repo.findLiveEnrollment(db, userId, course.courseId)) {
        throw new Conflict('You are already enrolled in this course');
      }
      await assertPrerequisites(userId, course.prerequisiteIds);
    },

    /** Whether a course has (or had) enrollments: catalog keeps such drafts instead of deleting them. */
    hasEnrollments: (courseId: number) => repo.courseHasEnrollments(db, courseId),

    /** The user's enrollment in a course that gives access (not revoked), or null. */
    async findLiveEnrollment(userId: number, courseId: number) {
      const row = await repo.findLiveEnrollment(db, userId, courseId);
      return row ? toResult(row, null) : null;
    },

    /** Whether the user has a live (not revoked) enrollment in the course. */
    isEnrolled: async (userId: number, courseId: number) =>
      Boolean(await repo.findLiveEnrollment(db, userId, courseId)),

    /** Course ids of the user's live enrollments. */
    listCourseIds: (userId: number) => repo.listLiveCourseIds(db, userId),

    /** In-progress enrollments with no recorded activity since `before`, in id order after `afterId`. */
    async listInactiveEnrollments(query: { before: Date; afterId: number; limit: number }) {
      const rows = await repo.listStaleInProgress(
        db,
        query.before,
        query.afterId,
        Math.min(Math.max(query.limit, 1), 1000),
      );
      return rows.map((r) => ({
        enrollmentId: r.id,
        userId: r.userId,
        courseId: r.courseId,
        enrolledAt: r.enrolledAt.toISOString(),
        lastActivityAt: r.updatedAt.toISOString(),
      }));
    },

    /** Up to `limit` user ids of a course's current students after `afterUserId`, ascending. */
    listStudentIds: (courseId: number, afterUserId = 0, limit = 500) =>
      repo.listLiveStudentIds(db, courseId, afterUserId, Math.min(Math.max(limit, 1), 1000)),

    /** Every enrollment of a user, for the personal-data export. */
    async exportFor(userId: number) {
      const rows = await repo.listAllUserEnrollments(db, userId);
      return rows.map((r) => toResult(r, null));
    },
  };
}
export type EnrollmentService = ReturnType<typeof createEnrollmentService>;
