import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readSingleFileUpload, registerSingleFileUploads } from '../../platform/http/upload.ts';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { errorEnvelopeSchema, responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { COVER_LINK_SECONDS, MAX_COVER_BYTES, type CourseExtras } from './catalog.courses.extras.ts';
import {
  addInstructorBody,
  courseDetail,
  courseInstructorParams,
  courseRefParams,
  courseRemoved,
  coverUploadBody,
  createCourseBody,
  prerequisitesBody,
  updateCourseBody,
} from './catalog.courses.schemas.ts';
import type { CourseService } from './catalog.courses.service.ts';

const tags = ['courses'];
const coverUpload = { field: 'cover', maxBytes: MAX_COVER_BYTES, label: 'cover' };

/** Course authoring: create, read, edit, publish, archive, delete, co-instructors, prerequisites, cover. */
export function courseRoutes(courses: CourseService, extras: CourseExtras) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.post(
      '/courses',
      {
        ...authed,
        schema: {
          operationId: 'createCourse',
          tags,
          summary: 'Create a course (draft)',
          description:
            'Instructors and admins only. The caller becomes the owner. `price` is in major units with at most 2 decimals (0 = free). Without `slug`, one is derived from the title (with a numeric suffix if taken); an explicit slug already in use is 409. Tags are normalised and de-duplicated.',
          security: bearerSecurity,
          body: createCourseBody,
          response: responses({ status: 201, data: courseDetail }, [401, 403, 409]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await courses.create(principalOf(request), request.body));
      },
    );

    r.get(
      '/courses/:id',
      {
        onRequest: guard.authenticateOptional,
        schema: {
          operationId: 'getCourse',
          tags,
          summary: 'A course with its outline, by id or slug',
          description:
            'Published courses are public. Drafts and archived courses are shown to their owner, co-instructors and admins only, and are 404 to everyone else. The outline lists lesson titles, durations and preview flags, never bodies.',
          params: courseRefParams,
          response: responses({ data: courseDetail }, [404]),
        },
      },
      async (request) => successBody(await courses.get(request.principal, request.params.id)),
    );

    r.patch(
      '/courses/:id',
      {
        ...authed,
        schema: {
          operationId: 'updateCourse',
          tags,
          summary: 'Edit a course',
          description:
            'Owner, co-instructors and admins. Any of the create fields, at least one; `subtitle` and `categoryId` accept null to clear. A slug in use by another course is 409.',
          security: bearerSecurity,
          params: courseRefParams,
          body: updateCourseBody,
          response: responses({ data: courseDetail }, [401, 403, 404, 409]),
        },
      },
      async (request) =>
        successBody(await courses.update(principalOf(request), request.params.id, request.body)),
    );

    r.delete(
      '/courses/:id',
      {
        ...authed,
        schema: {
          operationId: 'deleteCourse',
          tags,
          summary: 'Delete a draft, or archive a course that was published',
          description:
            'Owner and admins. A draft that was never published and has no enrollments is deleted with its curriculum (`status: deleted`); any other course is archived instead (`status: archived`).',
          security: bearerSecurity,
          params: courseRefParams,
          response: responses({ data: courseRemoved }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await courses.remove(principalOf(request), request.params.id)),
    );

    r.post(
      '/courses/:id/publish',
      {
        ...authed,
        schema: {
          operationId: 'publishCourse',
          tags,
          summary: 'Publish a draft or archived course',
          description:
            'Owner and admins. Refuses with 400 and one detail per missing requirement (`title`, `description`, `lessons`). 409 when already published. `publishedAt` keeps the first publication date.',
          security: bearerSecurity,
          params: courseRefParams,
          response: responses({ data: courseDetail }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await courses.publish(principalOf(request), request.params.id)),
    );

    r.post(
      '/courses/:id/archive',
      {
        ...authed,
        schema: {
          operationId: 'archiveCourse',
          tags,
          summary: 'Archive a course',
          description:
            'Owner and admins. The course disappears from the public (404). 409 when already archived.',
          security: bearerSecurity,
          params: courseRefParams,
          response: responses({ data: courseDetail }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await courses.archive(principalOf(request), request.params.id)),
    );

    r.post(
      '/courses/:id/instructors',
      {
        ...authed,
        schema: {
          operationId: 'addCourseInstructor',
          tags,
          summary: 'Add a co-instructor',
          description:
            'Owner and admins. The user must be an instructor or admin (400 otherwise); 409 when already teaching the course. Co-instructors edit but cannot publish, archive or delete.',
          security: bearerSecurity,
          params: courseRefParams,
          body: addInstructorBody,
          response: responses({ status: 201, data: courseDetail }, [401, 403, 404, 409]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(
          await extras.addInstructor(principalOf(request), request.params.id, request.body.userId),
        );
      },
    );

    r.delete(
      '/courses/:id/instructors/:userId',
      {
        ...authed,
        schema: {
          operationId: 'removeCourseInstructor',
          tags,
          summary: 'Remove a co-instructor',
          description: 'Owner and admins. The owner cannot be removed (409).',
          security: bearerSecurity,
          params: courseInstructorParams,
          response: responses({ data: courseDetail }, [401, 403, 404, 409]),
        },
      },
      async (request) =>
        successBody(
          await extras.removeInstructor(principalOf(request), request.params.id, request.params.userId),
        ),
    );

    r.put(
      '/courses/:id/prerequisites',
      {
        ...authed,
        schema: {
          operationId: 'setCoursePrerequisites',
          tags,
          summary: 'Replace the courses this course requires',
          description:
            'Owner, co-instructors and admins. Each id must be a course the caller can see, not the course itself (400); a set that would form a cycle is 409. Enforcement comes with enrollment.',
          security: bearerSecurity,
          params: courseRefParams,
          body: prerequisitesBody,
          response: responses({ data: courseDetail }, [401, 403, 404, 409]),
        },
      },
      async (request) =>
        successBody(
          await extras.setPrerequisites(principalOf(request), request.params.id, request.body.courseIds),
        ),
    );

    r.get(
      '/courses/:id/cover',
      {
        onRequest: guard.authenticateOptional,
        schema: {
          operationId: 'getCourseCover',
          tags,
          summary: 'A course’s cover image',
          description: `Answers 302 to a signed link valid ${COVER_LINK_SECONDS / 60} minutes. 404 when the course has no cover or is hidden from the caller.`,
          params: courseRefParams,
          response: {
            302: z.null().meta({ description: 'Redirect to a short-lived signed URL (Location header)' }),
            400: errorEnvelopeSchema,
            404: errorEnvelopeSchema,
            429: errorEnvelopeSchema,
            500: errorEnvelopeSchema,
          },
        },
      },
      async (request, reply) =>
        reply
          .header('cache-control', 'private, max-age=240')
          .redirect(await extras.coverLink(request.principal, request.params.id), 302),
    );

    // Multipart parsing only for the upload route, in its own encapsulated context.
    await app.register(async (scoped) => {
      await registerSingleFileUploads(scoped, MAX_COVER_BYTES);
      scoped.withTypeProvider<ZodTypeProvider>().put(
        '/courses/:id/cover',
        {
          ...authed,
          schema: {
            operationId: 'uploadCourseCover',
            tags,
            summary: 'Upload a course’s cover image',
            description:
              'Owner, co-instructors and admins. Multipart body with one file field `cover`: PNG, JPEG or WebP by its first bytes (415 otherwise), at most 5 MB (413). `coverImageUrl` becomes `/api/courses/{id}/cover`; the previous image is deleted.',
            security: bearerSecurity,
            consumes: ['multipart/form-data'],
            params: courseRefParams,
            body: coverUploadBody,
            response: responses({ data: courseDetail }, [401, 403, 404, 413, 415]),
          },
        },
        async (request) => {
          const principal = principalOf(request);
          // Refused before the upload is read, so strangers cannot make us buffer 5 MB.
          await courses.assertCan(principal, request.params.id, 'edit');
          const bytes = await readSingleFileUpload(request, coverUpload);
          return successBody(await extras.uploadCover(principal, request.params.id, bytes));
        },
      );
    });
  };
}
