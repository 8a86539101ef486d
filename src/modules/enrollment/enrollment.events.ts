/** Events the enrollment module publishes, inside the transaction of the change. */
export const ENROLLMENT_CREATED = 'enrollment.enrollment.created';
export const ENROLLMENT_REVOKED = 'enrollment.enrollment.revoked';

export type EnrollmentSource = 'free' | 'payment' | 'admin';

/** A student was enrolled (seed 004's `UserEnrolled`). */
export interface EnrollmentCreated {
  enrollmentId: number;
  userId: number;
  courseId: number;
  source: EnrollmentSource;
  /** The payment that bought it (source `payment`), else null. */
  paymentId: number | null;
  orderId: number | null;
  /** ISO 8601 UTC; drip release counts from here. */
  enrolledAt: string;
}

/** A student lost access to a course (refund). */
export interface EnrollmentRevoked {
  enrollmentId: number;
  userId: number;
  courseId: number;
  paymentId: number | null;
  orderId: number | null;
  reason: string;
}
