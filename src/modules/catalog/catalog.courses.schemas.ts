import { z } from 'zod';
import { MAX_TAG_LENGTH, MAX_TAGS_PER_COURSE, normaliseTag, normaliseTags } from './catalog.tags.ts';

const MAX_INT = 2_147_483_647;
/** Prices are stored in minor units in an integer column; this keeps every price far below its limit. */
export const MAX_PRICE = 10_000_000;

/** A course id or slug in the path (`GET /api/courses/{id}` accepts both). */
export const courseRefParams = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(140)
    .meta({ example: 'intro-to-python', description: 'Numeric course id or slug' }),
});

export const courseInstructorParams = z.strictObject({
  id: courseRefParams.shape.id,
  userId: z.coerce.number().int().positive().max(MAX_INT),
});

const slug = z
  .string()
  .max(140)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'Lower-case letters, digits and single hyphens (kebab-case)')
  // An all-digit slug would read as an id in `/api/courses/{id}`.
  .refine((s) => /[a-z]/.test(s), 'Must contain at least one letter')
  .meta({ example: 'intro-to-python' });

const tag = z
  .string()
  .refine((s) => normaliseTag(s).length >= 1, 'A tag cannot be blank')
  .refine((s) => normaliseTag(s).length <= MAX_TAG_LENGTH, `At most ${MAX_TAG_LENGTH} characters`);

const language = z
  .string()
  .max(35)
  .transform((value, ctx) => {
    try {
      // Intl rejects what is not a well-formed BCP 47 tag and returns the canonical casing (en-GB).
      const [canonical] = Intl.getCanonicalLocales(value);
      if (canonical && canonical.length <= 35) return canonical;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'A BCP 47 language tag such as en or pt-BR' });
    return z.NEVER;
  })
  .meta({ example: 'en' });

const price = z
  .number()
  .min(0)
  .max(MAX_PRICE)
  .refine((v) => Math.abs(Math.round(v * 100) - v * 100) < 1e-6, 'At most 2 decimal places')
  .meta({ example: 49.99, description: 'Major units; 0 means free' });

const courseFields = {
  title: z.string().trim().min(3).max(200).meta({ example: 'Introduction to Python' }),
  subtitle: z.string().trim().max(300),
  description: z.string().max(20_000).meta({ description: 'Markdown' }),
  categoryId: z.number().int().positive().max(MAX_INT),
  tags: z
    .array(tag)
    .max(MAX_TAGS_PER_COURSE)
    .transform(normaliseTags)
    .meta({ description: 'Normalised: trimmed, lower-case, inner whitespace collapsed; duplicates dropped' }),
  difficulty: z.enum(['Beginner', 'Intermediate', 'Advanced']),
  language,
  price,
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'ISO 4217 code: three upper-case letters')
    .meta({ example: 'NGN' }),
  slug,
};

export const createCourseBody = z.strictObject({
  title: courseFields.title,
  subtitle: courseFields.subtitle.optional(),
  description: courseFields.description.default(''),
  categoryId: courseFields.categoryId.optional(),
  tags: courseFields.tags.default([]),
  difficulty: courseFields.difficulty.default('Beginner'),
  language: courseFields.language.default('en'),
  price: courseFields.price.default(0),
  currency: courseFields.currency.default('NGN'),
  slug: courseFields.slug.optional(),
});
export type CreateCourseInput = z.output<typeof createCourseBody>;

export const updateCourseBody = z
  .strictObject({
    title: courseFields.title.optional(),
    subtitle: courseFields.subtitle.nullable().optional(),
    description: courseFields.description.optional(),
    categoryId: courseFields.categoryId.nullable().optional(),
    tags: courseFields.tags.optional(),
    difficulty: courseFields.difficulty.optional(),
    language: courseFields.language.optional(),
    price: courseFields.price.optional(),
    currency: courseFields.currency.optional(),
    slug: courseFields.slug.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'Send at least one field to change');
export type UpdateCourseInput = z.output<typeof updateCourseBody>;

export const addInstructorBody = z.strictObject({
  userId: z.number().int().positive().max(MAX_INT),
});

export const prerequisitesBody = z.strictObject({
  courseIds: z
    .array(z.number().int().positive().max(MAX_INT))
    .max(20)
    .transform((ids) => [...new Set(ids)]),
});

export const coverUploadBody = z
  .object({
    cover: z.unknown().meta({
      type: 'string',
      format: 'binary',
      description: 'One PNG, JPEG or WebP image of at most 5 MB; the type is read from the file’s bytes.',
    }),
  })
  .nullish();

const outlineLesson = z.object({
  lessonId: z.number().int(),
  title: z.string(),
  type: z.enum(['video', 'text', 'document', 'quiz', 'live']),
  durationMinutes: z.number().int(),
  isPreview: z.boolean(),
  releaseAfterDays: z.number().int().nullable(),
  releaseAt: z.string().nullable(),
});

export const courseDetail = z
  .object({
    courseId: z.number().int().meta({ example: 12 }),
    slug: z.string(),
    title: z.string(),
    subtitle: z.string().nullable(),
    description: z.string(),
    category: z.object({ id: z.number().int(), name: z.string(), slug: z.string() }).nullable(),
    tags: z.array(z.string()),
    difficulty: z.enum(['Beginner', 'Intermediate', 'Advanced']),
    language: z.string(),
    price: z.number().meta({ example: 49.99 }),
    currency: z.string(),
    coverImageUrl: z.string().nullable(),
    durationMinutes: z.number().int(),
    instructor: z.object({ userId: z.number().int(), name: z.string() }),
    coInstructors: z.array(z.object({ userId: z.number().int(), name: z.string().optional() })),
    status: z.enum(['draft', 'published', 'archived']),
    publishedAt: z.string().nullable(),
    rating: z.number(),
    ratingCount: z.number().int(),
    prerequisites: z.array(z.object({ courseId: z.number().int(), title: z.string(), slug: z.string() })),
    createdAt: z.string(),
    updatedAt: z.string(),
    outline: z.array(
      z.object({ sectionId: z.number().int(), title: z.string(), lessons: z.array(outlineLesson) }),
    ),
  })
  .meta({ id: 'CourseDetail' });
export type CourseDetail = z.infer<typeof courseDetail>;

export const courseRemoved = z.object({
  message: z.string(),
  status: z.enum(['deleted', 'archived']),
});
