import { z } from 'zod';

export const browseSorts = ['relevance', 'newest', 'popular', 'rating', 'price_asc', 'price_desc'] as const;
export type BrowseSort = (typeof browseSorts)[number];
export const difficulties = ['Beginner', 'Intermediate', 'Advanced'] as const;

/** Major units with at most 2 decimals, parsed to integer minor units without floating point. */
const money = z
  .string()
  .regex(/^\d{1,7}(\.\d{1,2})?$/, 'Must be a non-negative amount with at most 2 decimals')
  .transform((v) => {
    const [whole, frac = ''] = v.split('.');
    return Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  });

const booleanQuery = z
  .enum(['true', 'false'], { error: 'Must be true or false' })
  .transform((v) => v === 'true');

const category = z
  .string()
  .trim()
  .min(1)
  .max(120)
  .meta({ description: 'Category slug or name (case-insensitive); includes its subcategories' });
const difficulty = z.enum(difficulties);

const tagList = z
  .string()
  .max(500)
  .transform((v, ctx) => {
    const tags = [...new Set(v.split(',').map((t) => t.trim().replace(/\s+/g, ' ').toLowerCase()))].filter(
      Boolean,
    );
    if (tags.length === 0 || tags.length > 10 || tags.some((t) => t.length > 50)) {
      ctx.addIssue({ code: 'custom', message: 'Must be 1–10 comma-separated tags of at most 50 characters' });
      return z.NEVER;
    }
    return tags.sort();
  });

export const listCoursesQuery = z
  .strictObject({
    q: z.string().trim().min(1).max(200).optional().meta({
      description:
        'Full-text search over title, subtitle, description, tags and instructor name. Web-search syntax: `"exact phrase"`, `OR`, `-excluded`. Misspellings are tolerated (trigram similarity on title and instructor name).',
    }),
    category: category.optional(),
    tags: tagList.optional().meta({ description: 'Comma-separated tags; a course must have all of them' }),
    difficulty: difficulty.optional(),
    language: z
      .string()
      .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'Must be a language code such as en or pt-BR')
      .optional(),
    minPrice: money.optional().meta({ description: 'Minimum price in major units (inclusive)' }),
    maxPrice: money.optional().meta({ description: 'Maximum price in major units (inclusive)' }),
    free: booleanQuery.optional().meta({ description: '`true`: free courses only' }),
    minRating: z.coerce.number().min(0).max(5).optional(),
    instructor: z.coerce
      .number()
      .int()
      .positive()
      .max(2_147_483_647)
      .optional()
      .meta({ description: 'User id of the owner instructor' }),
    sort: z
      .enum(browseSorts)
      .optional()
      .meta({ description: 'Default: `relevance` with `q`, `newest` without' }),
    cursor: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: '`pageInfo.nextCursor` of the previous page (same query and sort)' }),
    limit: z.coerce.number().int().min(1).max(50).default(20),
  })
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    message: 'minPrice must not exceed maxPrice',
    path: ['minPrice'],
  })
  .refine((q) => q.sort !== 'relevance' || q.q !== undefined, {
    message: 'sort=relevance needs q',
    path: ['sort'],
  });
export type ListCoursesQuery = z.output<typeof listCoursesQuery>;

export const catalogListQuery = z.strictObject({
  category: category.optional(),
  difficulty: difficulty.optional(),
  duration: z.coerce
    .number()
    .int()
    .positive()
    .max(1_000_000)
    .optional()
    .meta({ description: 'Maximum course duration in minutes (inclusive)' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .meta({ description: 'How many courses (1–100, default 50), newest first' }),
});
export type CatalogListQuery = z.output<typeof catalogListQuery>;

export const suggestQuery = z.strictObject({
  q: z.string().trim().min(2, 'Must be at least 2 characters').max(100),
});

export const popularQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(50).default(10),
});

const categoryRef = z.object({ id: z.number().int(), name: z.string(), slug: z.string() });

export const courseSummary = z.object({
  courseId: z.number().int(),
  slug: z.string(),
  title: z.string(),
  subtitle: z.string().nullable(),
  instructor: z.object({ userId: z.number().int(), name: z.string() }),
  category: categoryRef.nullable(),
  tags: z.array(z.string()),
  difficulty: difficulty,
  language: z.string(),
  price: z.number().meta({ description: 'Major units', example: 49.99 }),
  currency: z.string().meta({ example: 'NGN' }),
  rating: z.number(),
  ratingCount: z.number().int(),
  durationMinutes: z.number().int(),
  coverImageUrl: z.string().nullable(),
  publishedAt: z.string().nullable(),
});
export type CourseSummary = z.output<typeof courseSummary>;

const facetValue = z.object({ value: z.string(), count: z.number().int() });

export const coursePage = z.object({
  items: z.array(courseSummary),
  pageInfo: z.object({ nextCursor: z.string().nullable(), hasMore: z.boolean() }),
  facetsExhaustive: z.boolean().meta({
    description:
      'false when a search matched more courses than it ranks (1,000; 200 when typo tolerance joins because full-text found fewer than 10): relevance then ranks, and facets count, the first matches found rather than all of them (refine the query to narrow it down). Always true without `q`.',
  }),
  facets: z.object({
    category: z.array(categoryRef.extend({ count: z.number().int() })),
    difficulty: z.array(facetValue),
    language: z.array(facetValue),
    price: z.array(
      z.object({
        band: z.enum(['free', 'under_20', '20_50', '50_100', 'over_100']),
        count: z.number().int(),
      }),
    ),
  }),
});

export const catalogList = z.object({
  courses: z.array(
    z.object({
      courseId: z.number().int(),
      title: z.string(),
      instructor: z.string(),
      rating: z.number(),
      duration: z.number().int().meta({ description: 'Minutes' }),
      category: z.string().nullable(),
      coverImageUrl: z.string().nullable(),
      description: z.string(),
      price: z.number().meta({ description: 'Major units', example: 49.99 }),
      difficulty: difficulty,
    }),
  ),
});

export const popularCourses = z.object({ items: z.array(courseSummary) });

export const suggestions = z.object({
  courses: z.array(z.object({ courseId: z.number().int(), title: z.string(), slug: z.string() })),
  instructors: z.array(z.object({ userId: z.number().int(), name: z.string() })),
});
