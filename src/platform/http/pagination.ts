import { z } from 'zod';

const MAX_ID = 2_147_483_647;

/** Opaque keyset cursor of an id-ordered page: base64url of the previous page's last id. */
export function encodeIdCursor(id: number): string {
  return Buffer.from(String(id)).toString('base64url');
}

/** The id inside a cursor made by `encodeIdCursor`, or undefined when the text is not one. */
export function decodeIdCursor(value: string): number | undefined {
  const text = Buffer.from(value, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

/** The `cursor` query parameter of id-ordered pages, decoded to the id (a 400 when it is not ours). */
export const idCursor = z
  .string()
  .max(24)
  .transform((v, ctx) => {
    const id = decodeIdCursor(v);
    if (id === undefined) {
      ctx.addIssue({ code: 'custom', message: 'Invalid cursor' });
      return z.NEVER;
    }
    return id;
  })
  .optional()
  .meta({ description: '`pageInfo.nextCursor` of the previous page' });

/** The `limit` query parameter of a page: 1–100, 20 when absent. */
export const pageLimit = z.coerce.number().int().min(1).max(100).default(20);

/** `pageInfo` of every keyset page. */
export const pageInfo = z.object({
  nextCursor: z.string().nullable(),
  hasMore: z.boolean(),
});

/** One keyset page from `limit + 1` rows fetched in page order (the extra row says there is more). */
export function pageOf<R extends { id: number }, T>(rows: R[], limit: number, map: (row: R) => T) {
  const page = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return {
    items: page.map(map),
    pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
  };
}
