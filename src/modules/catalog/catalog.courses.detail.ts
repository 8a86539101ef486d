import type { DbOrTx } from '../../platform/db.ts';
import type { IdentityApi } from '../identity/index.ts';
import * as coursesRepo from './catalog.courses.repository.ts';
import type { CourseDetail } from './catalog.courses.schemas.ts';
import type { CourseRow } from './catalog.repository.ts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Price for the API: minor units back to major units (display only, no arithmetic follows). */
export const toMajor = (minor: number) => minor / 100;

/**
 * The course detail object of GET and write responses. `editorView` also lists prerequisites that
 * are not published; the public (cached) view shows only published ones.
 */
export async function buildCourseDetail(
  db: DbOrTx,
  identity: Pick<IdentityApi, 'getProfile'>,
  row: CourseRow,
  editorView: boolean,
): Promise<CourseDetail> {
  const [category, instructors, prerequisites, sectionRows, lessonRows] = await Promise.all([
    row.categoryId ? coursesRepo.findCategory(db, row.categoryId) : Promise.resolve(undefined),
    coursesRepo.listInstructors(db, row.id),
    coursesRepo.listPrerequisites(db, row.id),
    coursesRepo.listSections(db, row.id),
    coursesRepo.listLessonSummaries(db, row.id),
  ]);
  const coInstructors = await Promise.all(
    instructors
      .filter((i) => i.userId !== row.ownerId)
      .map(async ({ userId }) => {
        // A deleted account keeps its id here; its name is simply not shown.
        const name = await identity.getProfile(userId).then(
          (p) => p.name,
          () => undefined,
        );
        return name === undefined ? { userId } : { userId, name };
      }),
  );
  const outline = sectionRows.map((s) => ({
    sectionId: s.sectionId,
    title: s.title,
    lessons: lessonRows
      .filter((l) => l.sectionId === s.sectionId)
      .map((l) => ({
        lessonId: l.lessonId,
        title: l.title,
        type: l.type,
        durationMinutes: l.durationMinutes,
        isPreview: l.isPreview,
        releaseAfterDays: l.releaseAfterDays,
        releaseAt: iso(l.releaseAt),
      })),
  }));
  return {
    courseId: row.id,
    slug: row.slug,
    title: row.title,
    subtitle: row.subtitle,
    description: row.description,
    category: category ?? null,
    tags: row.tags,
    difficulty: row.difficulty,
    language: row.language,
    price: toMajor(row.priceMinor),
    currency: row.currency,
    coverImageUrl: row.coverImageUrl,
    durationMinutes: row.durationMinutes,
    instructor: { userId: row.ownerId, name: row.instructorName },
    coInstructors,
    status: row.status,
    publishedAt: iso(row.publishedAt),
    rating: Number(row.ratingAvg),
    ratingCount: row.ratingCount,
    prerequisites: prerequisites
      .filter((p) => editorView || p.status === 'published')
      .map(({ courseId, title, slug }) => ({ courseId, title, slug })),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    outline,
  };
}

/** A URL-safe slug from a title; never all digits, since those read as ids. */
export function slugify(title: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 120)
    .replace(/-+$/, '');
  if (!base) return 'course';
  return /[a-z]/.test(base) ? base : `course-${base}`;
}

/** `base`, or `base-2`, `base-3`… whichever is free first. */
export async function freeSlug(db: DbOrTx, base: string): Promise<string> {
  const taken = new Set(await coursesRepo.listSlugsLike(db, base));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}
