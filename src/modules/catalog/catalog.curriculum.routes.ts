import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  createLessonBody,
  createSectionBody,
  curriculumCourseParams,
  curriculumResult,
  deletedResult,
  lessonIdParams,
  lessonResult,
  reorderBody,
  sectionIdParams,
  sectionResult,
  updateLessonBody,
  updateSectionBody,
} from './catalog.curriculum.schemas.ts';
import type { CurriculumService } from './catalog.curriculum.service.ts';

/** A lesson as a reader sees it: the lesson plus why it is locked and, under drip, when it opens. */
const lessonView = lessonResult.extend({
  lockReason: z.enum(['not_enrolled', 'not_released']).optional().meta({
    description:
      'Present when `locked`: `not_enrolled` (enroll to read it) or `not_released` (drip: opens at `availableAt`)',
  }),
  availableAt: z
    .string()
    .optional()
    .meta({ description: 'When a drip-locked lesson opens for the caller (ISO 8601 UTC)' }),
});

const editorsOnly =
  'Owner, co-instructors and admins only: others get 403 on a published course and 404 on a draft or archived one.';

/** Sections and lessons: authoring for editors, lesson reading for everyone the course is visible to. */
export function curriculumRoutes(curriculum: CurriculumService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const auth = { onRequest: guard.authenticate };

    r.post(
      '/courses/:id/sections',
      {
        ...auth,
        schema: {
          operationId: 'createSection',
          tags: ['curriculum'],
          summary: 'Add a section to a course',
          description: `Appended, or inserted at \`position\` (0-based) with later sections shifted down. ${editorsOnly}`,
          security: bearerSecurity,
          params: curriculumCourseParams,
          body: createSectionBody,
          response: responses({ status: 201, data: sectionResult }, [401, 403, 404]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(
          await curriculum.createSection(principalOf(request), request.params.id, request.body),
        );
      },
    );

    r.patch(
      '/sections/:id',
      {
        ...auth,
        schema: {
          operationId: 'updateSection',
          tags: ['curriculum'],
          summary: 'Rename a section',
          description: editorsOnly,
          security: bearerSecurity,
          params: sectionIdParams,
          body: updateSectionBody,
          response: responses({ data: sectionResult }, [401, 403, 404]),
        },
      },
      async (request) =>
        successBody(
          await curriculum.renameSection(principalOf(request), request.params.id, request.body.title),
        ),
    );

    r.delete(
      '/sections/:id',
      {
        ...auth,
        schema: {
          operationId: 'deleteSection',
          tags: ['curriculum'],
          summary: 'Delete a section and its lessons',
          description: `Later sections move up. 409 when it would leave a published course without lessons. ${editorsOnly}`,
          security: bearerSecurity,
          params: sectionIdParams,
          response: responses({ data: deletedResult }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await curriculum.deleteSection(principalOf(request), request.params.id)),
    );

    r.post(
      '/sections/:id/lessons',
      {
        ...auth,
        schema: {
          operationId: 'createLesson',
          tags: ['curriculum'],
          summary: 'Add a lesson to a section',
          description: `Appended, or inserted at \`position\`. The course duration is recomputed; on a published course a \`catalog.lesson.added\` event is published. \`releaseAfterDays\` and \`releaseAt\` (drip) exclude each other. ${editorsOnly}`,
          security: bearerSecurity,
          params: sectionIdParams,
          body: createLessonBody,
          response: responses({ status: 201, data: lessonResult }, [401, 403, 404]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(
          await curriculum.createLesson(principalOf(request), request.params.id, request.body),
        );
      },
    );

    r.get(
      '/lessons/:id',
      {
        onRequest: guard.authenticateOptional,
        schema: {
          operationId: 'getLesson',
          tags: ['curriculum'],
          summary: 'One lesson',
          description:
            'Anyone may read a lesson of a published course. `body` and `resources` are included for the course’s instructors and admins, for preview lessons, and for enrolled students once the lesson is released (drip: `releaseAfterDays` after their enrollment, or at `releaseAt`); otherwise `locked` is true and `lockReason` says why. Lessons of draft courses are 404 to all but editors; those of archived courses also stay open to their enrolled students.',
          params: lessonIdParams,
          response: responses({ data: lessonView }, [401, 404]),
        },
      },
      async (request) => successBody(await curriculum.getLesson(request.principal, request.params.id)),
    );

    r.patch(
      '/lessons/:id',
      {
        ...auth,
        schema: {
          operationId: 'updateLesson',
          tags: ['curriculum'],
          summary: 'Edit a lesson',
          description: `Any field but its place (see reorder). Setting one of \`releaseAfterDays\`/\`releaseAt\` while the other is stored is 400: set the other to null in the same request. ${editorsOnly}`,
          security: bearerSecurity,
          params: lessonIdParams,
          body: updateLessonBody,
          response: responses({ data: lessonResult }, [401, 403, 404]),
        },
      },
      async (request) =>
        successBody(await curriculum.updateLesson(principalOf(request), request.params.id, request.body)),
    );

    r.delete(
      '/lessons/:id',
      {
        ...auth,
        schema: {
          operationId: 'deleteLesson',
          tags: ['curriculum'],
          summary: 'Delete a lesson',
          description: `Later lessons move up; the course duration is recomputed. 409 for the last lesson of a published course. ${editorsOnly}`,
          security: bearerSecurity,
          params: lessonIdParams,
          response: responses({ data: deletedResult }, [401, 403, 404, 409]),
        },
      },
      async (request) => successBody(await curriculum.deleteLesson(principalOf(request), request.params.id)),
    );

    r.post(
      '/courses/:id/curriculum/reorder',
      {
        ...auth,
        schema: {
          operationId: 'reorderCurriculum',
          tags: ['curriculum'],
          summary: 'Reorder sections and lessons',
          description: `The body is the complete new order: every section of the course exactly once, each with the lessons it should hold in order (lessons may move between sections). A missing, repeated or foreign section or lesson is 400 and nothing changes. Applied in one transaction; positions become 0, 1, 2… ${editorsOnly}`,
          security: bearerSecurity,
          params: curriculumCourseParams,
          body: reorderBody,
          response: responses({ data: curriculumResult }, [401, 403, 404]),
        },
      },
      async (request) =>
        successBody(await curriculum.reorder(principalOf(request), request.params.id, request.body)),
    );
  };
}
