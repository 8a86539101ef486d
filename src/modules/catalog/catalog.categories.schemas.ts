import { z } from 'zod';

const id = z.coerce.number().int().positive().max(2_147_483_647);

export const categoryIdParams = z.strictObject({ id });

const name = z.string().trim().min(1, 'Must not be empty').max(100).meta({ example: 'Web Development' });
const slug = z
  .string()
  .trim()
  .max(120)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Must be lower-case letters, digits and single hyphens')
  .meta({ example: 'web-development' });
const position = z.number().int().min(0).max(1_000_000);

export const createCategoryBody = z.strictObject({
  name,
  slug: slug.optional().meta({ description: 'Derived from the name when omitted' }),
  parentId: id.nullable().optional(),
  position: position.optional().meta({ description: 'Order among siblings; defaults to the end' }),
});
export type CreateCategoryInput = z.output<typeof createCategoryBody>;

export const updateCategoryBody = z
  .strictObject({
    name: name.optional(),
    slug: slug.optional(),
    parentId: id.nullable().optional().meta({ description: '`null` makes it a top-level category' }),
    position: position.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'Provide at least one field' });
export type UpdateCategoryInput = z.output<typeof updateCategoryBody>;

export const category = z.object({
  id: z.number().int(),
  name: z.string(),
  slug: z.string(),
  parentId: z.number().int().nullable(),
  position: z.number().int(),
});

export interface CategoryNode {
  id: number;
  name: string;
  slug: string;
  courseCount: number;
  children: CategoryNode[];
}

const categoryNode = z
  .object({
    id: z.number().int(),
    name: z.string(),
    slug: z.string(),
    courseCount: z
      .number()
      .int()
      .meta({ description: 'Published courses in this category and its subcategories' }),
    get children(): z.ZodArray<typeof categoryNode> {
      return z.array(categoryNode);
    },
  })
  .meta({ id: 'CategoryNode' });

export const categoryTree = z.object({ categories: z.array(categoryNode) });

export const tagsQuery = z.strictObject({
  q: z
    .string()
    .trim()
    .toLowerCase()
    .min(1)
    .max(50)
    .optional()
    .meta({ description: 'Prefix of, or close to, the tag name (tags are lower case)' }),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});

export const tagList = z.object({
  tags: z.array(z.object({ name: z.string(), courseCount: z.number().int() })),
});

export const deletedCategory = z.object({ message: z.string().meta({ example: 'Category deleted' }) });
