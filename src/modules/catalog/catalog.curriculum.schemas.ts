import { z } from 'zod';

const MAX_INT = 2_147_483_647;
const id = z.coerce.number().int().positive().max(MAX_INT);
const bodyId = z.number().int().positive().max(MAX_INT);

export const LESSON_TYPES = ['video', 'text', 'document', 'quiz', 'live'] as const;
export const MAX_RESOURCES = 20;
export const MAX_BODY_LENGTH = 100_000;

/** A course id or slug in the path, as on `GET /api/courses/{id}`. */
export const curriculumCourseParams = z.strictObject({
  id: z.string().min(1).max(140).meta({ example: '42', description: 'Numeric course id or slug' }),
});
export const sectionIdParams = z.strictObject({ id: id.meta({ example: 7 }) });
export const lessonIdParams = z.strictObject({ id: id.meta({ example: 31 }) });

const position = z
  .number()
  .int()
  .min(0)
  .max(100_000)
  .meta({ description: '0-based; later items shift down. Omitted or past the end: appended.' });
const title = z.string().trim().min(1).max(200);

export const createSectionBody = z.strictObject({
  title: title.meta({ example: 'Getting started' }),
  position: position.optional(),
});
export const updateSectionBody = z.strictObject({ title });

const resource = z.strictObject({
  title: z.string().trim().min(1).max(200).meta({ example: 'Slides' }),
  url: z
    .url({ protocol: /^https?$/, error: 'An http or https URL' })
    .max(2048)
    .meta({ example: 'https://example.com/slides.pdf' }),
});

const lessonFields = {
  title: title.meta({ example: 'Variables and types' }),
  type: z.enum(LESSON_TYPES),
  durationMinutes: z.number().int().min(0).max(1440),
  isPreview: z.boolean().meta({ description: 'Preview lessons show their body to everyone' }),
  body: z.string().max(MAX_BODY_LENGTH).meta({ description: 'Markdown' }),
  resources: z.array(resource).max(MAX_RESOURCES),
  releaseAfterDays: z
    .number()
    .int()
    .min(0)
    .max(3650)
    .nullable()
    .meta({ description: 'Drip: released this many days after enrollment. Excludes `releaseAt`.' }),
  releaseAt: z.iso
    .datetime({ offset: true })
    .nullable()
    .meta({ description: 'Drip: released at this instant. Excludes `releaseAfterDays`.' }),
};

const exclusiveRelease = {
  check: (b: { releaseAfterDays?: number | null; releaseAt?: string | null }) =>
    b.releaseAfterDays == null || b.releaseAt == null,
  error: {
    message: 'releaseAfterDays and releaseAt are mutually exclusive',
    path: ['releaseAt'],
  },
};

export const createLessonBody = z
  .strictObject({
    title: lessonFields.title,
    type: lessonFields.type.default('text'),
    durationMinutes: lessonFields.durationMinutes.default(0),
    isPreview: lessonFields.isPreview.default(false),
    body: lessonFields.body.default(''),
    resources: lessonFields.resources.default([]),
    releaseAfterDays: lessonFields.releaseAfterDays.optional(),
    releaseAt: lessonFields.releaseAt.optional(),
    position: position.optional(),
  })
  .refine(exclusiveRelease.check, exclusiveRelease.error);

export const updateLessonBody = z
  .strictObject({
    title: lessonFields.title.optional(),
    type: lessonFields.type.optional(),
    durationMinutes: lessonFields.durationMinutes.optional(),
    isPreview: lessonFields.isPreview.optional(),
    body: lessonFields.body.optional(),
    resources: lessonFields.resources.optional(),
    releaseAfterDays: lessonFields.releaseAfterDays.optional(),
    releaseAt: lessonFields.releaseAt.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'Provide at least one field' })
  .refine(exclusiveRelease.check, exclusiveRelease.error);

export type CreateLessonInput = z.infer<typeof createLessonBody>;
export type UpdateLessonInput = z.infer<typeof updateLessonBody>;

export const reorderBody = z.strictObject({
  sections: z
    .array(
      z.strictObject({
        sectionId: bodyId,
        lessonIds: z.array(bodyId).max(2000),
      }),
    )
    .max(500)
    .meta({
      description:
        'The complete new order: every section of the course once, each with every lesson it should hold, in order.',
    }),
});
export type ReorderInput = z.infer<typeof reorderBody>;

export const sectionResult = z.object({
  sectionId: z.number().int(),
  courseId: z.number().int(),
  title: z.string(),
  position: z.number().int(),
});

const resourceResult = z.object({ title: z.string(), url: z.string() });

export const lessonResult = z.object({
  lessonId: z.number().int(),
  courseId: z.number().int(),
  sectionId: z.number().int(),
  title: z.string(),
  type: z.enum(LESSON_TYPES),
  position: z.number().int(),
  durationMinutes: z.number().int(),
  isPreview: z.boolean(),
  releaseAfterDays: z.number().int().nullable(),
  releaseAt: z.string().nullable(),
  locked: z.boolean().meta({ description: 'True when the caller may not read the body and resources' }),
  body: z.string().optional(),
  resources: z.array(resourceResult).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type LessonResult = z.infer<typeof lessonResult>;

export const curriculumResult = z.object({
  courseId: z.number().int(),
  sections: z.array(
    sectionResult.omit({ courseId: true }).extend({
      lessons: z.array(
        z.object({
          lessonId: z.number().int(),
          title: z.string(),
          position: z.number().int(),
        }),
      ),
    }),
  ),
});

export const deletedResult = z.object({ message: z.string() });
