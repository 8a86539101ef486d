import { z } from 'zod';

/** Path parameter of the public user routes; bounded so no id can overflow the integer column. */
export const userIdParams = z.strictObject({
  id: z.coerce.number().int().positive().max(2_147_483_647).meta({ example: 42 }),
});

/**
 * The multipart body as documented in OpenAPI. The route reads the file itself (stream, size limit,
 * magic bytes), so this schema only describes it; a JSON body is refused with 415 by the handler.
 */
export const avatarUploadBody = z
  .object({
    avatar: z.unknown().meta({
      type: 'string',
      format: 'binary',
      description: 'One PNG, JPEG or WebP image of at most 2 MB; the type is read from the file’s bytes.',
    }),
  })
  // The multipart parser leaves the parsed body null.
  .nullish();

export const avatarUploaded = z.object({
  avatarUrl: z.string().meta({
    example: 'https://api.example.com/api/users/42/avatar',
    description: 'Stable URL of the avatar',
  }),
  message: z.string().meta({ example: 'Avatar updated' }),
});

export const publishedCourse = z.object({
  courseId: z.number().int(),
  title: z.string(),
});

export const publicProfile = z.object({
  userId: z.number().int().meta({ example: 42 }),
  name: z.string().meta({ example: 'Ada Lovelace' }),
  username: z.string().meta({ example: 'ada' }),
  avatarUrl: z.string().nullable().meta({ example: 'https://api.example.com/api/users/42/avatar' }),
  bio: z.string().nullable(),
  role: z.enum(['instructor', 'admin']),
  publishedCourses: z.array(publishedCourse).meta({
    description: 'The instructor’s published courses; always empty until the catalog module exists.',
  }),
});
