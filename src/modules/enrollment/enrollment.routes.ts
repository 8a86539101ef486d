import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import { idempotencyHeaderSchema } from '../../platform/http/idempotency.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { EnrollmentContent } from './enrollment.content.ts';
import {
  courseContent,
  courseIdParams,
  enrollBody,
  enrollmentIdParams,
  enrollmentPage,
  enrollmentResult,
  enrollResult,
  listEnrollmentsQuery,
  studentPage,
} from './enrollment.schemas.ts';
import type { EnrollmentService } from './enrollment.service.ts';

/** Seed 002's Enrollment Service plus the lists and the enrolled student's course content. */
export function enrollmentRoutes(enrollments: EnrollmentService, content: EnrollmentContent) {
  return async function routes(app: FastifyInstance, { guard, idempotency }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const auth = { onRequest: guard.authenticate };

    r.post(
      '/enrollments/enroll',
      {
        onRequest: guard.authenticate,
        preHandler: idempotency,
        schema: {
          operationId: 'enroll',
          tags: ['enrollments'],
          summary: 'Enroll in a course',
          description: [
            '`userId` must be the caller (403 otherwise) unless the caller is an admin; admins enroll anyone without payment, prerequisites or email verification (`source: admin`, audited).',
            'The course must be published (404). A student needs a verified email address (403), every prerequisite course completed (403, one `details` entry per missing course), and for a paid course the `paymentId` of their own succeeded payment for this course (402 without one, or when it is pending, failed or refunded; 400 when it is for another course; 404 when it is not theirs). Free courses need no payment.',
            '409 `User already enrolled` when a live (not revoked) enrollment exists, also under concurrency: exactly one of simultaneous requests wins. Exception: when that enrollment was created from the same `paymentId` (the automatic enrollment after the payment got there first), the answer is 201 with its `enrollmentId`.',
            'A confirmation email is sent through a job. Accepts `Idempotency-Key`.',
          ].join('\n\n'),
          security: bearerSecurity,
          headers: idempotencyHeaderSchema,
          body: enrollBody,
          response: responses({ status: 201, data: enrollResult }, [401, 402, 403, 404, 409, 422]),
        },
      },
      async (request, reply) => {
        const result = await enrollments.enroll(principalOf(request), request.body, {
          ip: request.ip,
          userAgent: request.headers['user-agent'],
          requestId: String(request.id),
        });
        reply.status(201);
        return successBody(result);
      },
    );

    r.get(
      '/enrollments',
      {
        ...auth,
        schema: {
          operationId: 'listMyEnrollments',
          tags: ['enrollments'],
          summary: 'My enrollments',
          description:
            'The caller’s enrollments, newest first, optionally of one `status`. Keyset pagination.',
          security: bearerSecurity,
          querystring: listEnrollmentsQuery,
          response: responses({ data: enrollmentPage }, [401]),
        },
      },
      async (request) => successBody(await enrollments.listMine(principalOf(request), request.query)),
    );

    r.get(
      '/enrollments/:id',
      {
        ...auth,
        schema: {
          operationId: 'getEnrollment',
          tags: ['enrollments'],
          summary: 'One enrollment',
          description:
            'Seed 002’s fields plus `courseTitle`, `source` and the payment. The student, the course’s owner and co-instructors, and admins; 404 `Enrollment not found` for everyone else.',
          security: bearerSecurity,
          params: enrollmentIdParams,
          response: responses({ data: enrollmentResult }, [401, 404]),
        },
      },
      async (request) => successBody(await enrollments.get(principalOf(request), request.params.id)),
    );

    r.get(
      '/courses/:id/students',
      {
        ...auth,
        schema: {
          operationId: 'listCourseStudents',
          tags: ['enrollments'],
          summary: 'A course’s students',
          description:
            'Enrollments of a course with the student’s name and email, newest first, optionally of one `status` (all by default, revoked included). The course’s owner, co-instructors and admins; others get 403 (404 for a draft or archived course). Keyset pagination.',
          security: bearerSecurity,
          params: courseIdParams,
          querystring: listEnrollmentsQuery,
          response: responses({ data: studentPage }, [401, 403, 404]),
        },
      },
      async (request) =>
        successBody(await enrollments.listStudents(principalOf(request), request.params.id, request.query)),
    );

    r.get(
      '/courses/:id/content',
      {
        ...auth,
        schema: {
          operationId: 'getCourseContent',
          tags: ['enrollments'],
          summary: 'A course’s lessons to learn from',
          description:
            'Sections and lessons in order. Enrolled students (also after the course is archived) get the body and resources of every released lesson; a lesson still closed by drip (`releaseAfterDays` after their enrollment, or `releaseAt`) is `locked` with `availableAt` instead. The course’s staff and admins see everything. Others get 403 (404 for a draft or archived course).',
          security: bearerSecurity,
          params: courseIdParams,
          response: responses({ data: courseContent }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await content.getCourseContent(principalOf(request), request.params.id)),
    );
  };
}
