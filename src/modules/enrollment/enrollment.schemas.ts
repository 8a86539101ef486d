import { z } from 'zod';
import { idCursor as cursor, pageInfo, pageLimit as limit } from '../../platform/http/pagination.ts';

const MAX_INT = 2_147_483_647;
const bodyId = z.number().int().positive().max(MAX_INT);
const pathId = z.coerce.number().int().positive().max(MAX_INT);

export const ENROLLMENT_STATUSES = ['in_progress', 'completed', 'dropped', 'revoked'] as const;
export const ENROLLMENT_SOURCES = ['free', 'payment', 'admin'] as const;

const status = z.enum(ENROLLMENT_STATUSES);

export const enrollBody = z.strictObject({
  courseId: bodyId.meta({ example: 1 }),
  userId: bodyId.meta({ example: 1, description: 'Must be the caller, unless the caller is an admin' }),
  paymentId: bodyId.nullable().optional().meta({
    example: 1,
    description:
      'A succeeded payment of this user for this course (`paymentId` from the payment APIs). Not needed for free courses, nor when an admin enrolls someone.',
  }),
});
export type EnrollInput = z.infer<typeof enrollBody>;

export const enrollResult = z.object({
  enrollmentId: z.number().int().meta({ example: 1 }),
  message: z.string().meta({ example: 'Enrollment successful' }),
});

export const enrollmentIdParams = z.strictObject({ id: pathId.meta({ example: 1 }) });
export const courseIdParams = z.strictObject({
  id: pathId.meta({ example: 42, description: 'Numeric course id' }),
});

export const enrollmentResult = z.object({
  enrollmentId: z.number().int(),
  userId: z.number().int(),
  courseId: z.number().int(),
  courseTitle: z.string().nullable().meta({ description: 'null once the course was deleted' }),
  enrollmentDate: z.string().meta({ example: '2025-07-28T18:07:00Z' }),
  status: status.meta({ description: '`revoked`: access withdrawn (refund); a new purchase enrolls anew' }),
  source: z.enum(ENROLLMENT_SOURCES),
  paymentId: z.number().int().nullable(),
  orderId: z.number().int().nullable(),
  completedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokeReason: z.string().nullable(),
});
export type EnrollmentResult = z.infer<typeof enrollmentResult>;

export const listEnrollmentsQuery = z.strictObject({ status: status.optional(), limit, cursor });
export type ListQuery = z.infer<typeof listEnrollmentsQuery>;

export const enrollmentPage = z.object({ items: z.array(enrollmentResult), pageInfo });

export const studentItem = z.object({
  enrollmentId: z.number().int(),
  userId: z.number().int(),
  name: z.string().nullable().meta({ description: 'null once the account was deleted' }),
  email: z.string().nullable(),
  status,
  source: z.enum(ENROLLMENT_SOURCES),
  enrollmentDate: z.string(),
  completedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export const studentPage = z.object({
  courseId: z.number().int(),
  items: z.array(studentItem),
  pageInfo,
});

const resource = z.object({ title: z.string(), url: z.string() });

export const contentLesson = z.object({
  lessonId: z.number().int(),
  sectionId: z.number().int(),
  title: z.string(),
  type: z.string().meta({ example: 'text' }),
  position: z.number().int(),
  durationMinutes: z.number().int(),
  isPreview: z.boolean(),
  releaseAfterDays: z.number().int().nullable(),
  releaseAt: z.string().nullable(),
  locked: z
    .boolean()
    .meta({ description: 'True while drip keeps the lesson closed; body and resources are then absent' }),
  availableAt: z.string().optional().meta({ description: 'When a locked lesson opens for the caller' }),
  body: z.string().optional(),
  resources: z.array(resource).optional(),
});
export type ContentLesson = z.infer<typeof contentLesson>;

export const courseContent = z.object({
  courseId: z.number().int(),
  title: z.string(),
  enrollmentId: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'The caller’s enrollment; null for the course’s staff and admins' }),
  sections: z.array(
    z.object({
      sectionId: z.number().int(),
      title: z.string(),
      position: z.number().int(),
      lessons: z.array(contentLesson),
    }),
  ),
});
export type CourseContent = z.infer<typeof courseContent>;
