import type { Cache } from '../../platform/cache.ts';
import { isUniqueViolation, type Db, type DbOrTx } from '../../platform/db.ts';
import { Conflict, NotFound, ValidationError } from '../../platform/errors.ts';
import { catalogCache } from './catalog.cache.ts';
import * as catRepo from './catalog.categories.repository.ts';
import type { CategoryNode, CreateCategoryInput, UpdateCategoryInput } from './catalog.categories.schemas.ts';

export interface CatalogCategoriesDeps {
  db: Db;
  cache: Cache;
}

/** A URL slug from a name: ASCII letters and digits joined by single hyphens. */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100)
    .replace(/-+$/, '');
  return base || 'category';
}

const toCategory = (c: catRepo.CategoryRow) => ({
  id: c.id,
  name: c.name,
  slug: c.slug,
  parentId: c.parentId,
  position: c.position,
});

const slugConflict = () => new Conflict('Category slug already in use');

/** Builds the tree; counts include subcategories, as the catalog's category filter does. */
function buildTree(rows: catRepo.CategoryRow[], counts: Map<number, number>): CategoryNode[] {
  const nodes = new Map<number, CategoryNode>();
  for (const r of rows)
    nodes.set(r.id, { id: r.id, name: r.name, slug: r.slug, courseCount: 0, children: [] });
  const roots: CategoryNode[] = [];
  for (const r of rows) {
    const parent = r.parentId === null ? undefined : nodes.get(r.parentId);
    (parent ? parent.children : roots).push(nodes.get(r.id)!);
  }
  const total = (node: CategoryNode): number =>
    (node.courseCount = (counts.get(node.id) ?? 0) + node.children.reduce((sum, c) => sum + total(c), 0));
  roots.forEach(total);
  return roots;
}

/** Admin-managed category tree and tag suggestions. */
export function createCatalogCategories({ db, cache }: CatalogCategoriesDeps) {
  async function freeSlug(tx: DbOrTx, base: string): Promise<string> {
    const taken = await catRepo.slugsLike(tx, base);
    if (!taken.has(base)) return base;
    for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
  }

  async function assertParentExists(tx: DbOrTx, parentId: number) {
    if (!(await catRepo.findCategory(tx, parentId))) {
      throw new ValidationError('Invalid input data', [
        { field: 'body.parentId', message: 'Parent category not found' },
      ]);
    }
  }

  /** Runs a tree change, maps slug races to 409, and drops listings (they show category names). */
  async function write<T>(fn: (tx: DbOrTx) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await db.transaction(async (tx) => {
        await catRepo.lockCategoryTree(tx);
        return fn(tx);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw slugConflict();
      throw err;
    }
    await catalogCache.invalidateListings(cache);
    return result;
  }

  return {
    /** The whole tree with published course counts; cached with the listings. */
    async tree() {
      return cache.getOrLoad(
        catalogCache.listingKey('categories', {}),
        { ttlSeconds: catalogCache.TTL_SECONDS, tags: [catalogCache.listingTag] },
        async () => {
          const [rows, counts] = await Promise.all([
            catRepo.listCategories(db),
            catRepo.countPublishedByCategory(db),
          ]);
          return { categories: buildTree(rows, counts) };
        },
      );
    },

    /** Creates a category; an explicit slug in use is 409, a derived one gets a numeric suffix. */
    async create(input: CreateCategoryInput) {
      const row = await write(async (tx) => {
        const parentId = input.parentId ?? null;
        if (parentId !== null) await assertParentExists(tx, parentId);
        let slug: string;
        if (input.slug !== undefined) {
          if (await catRepo.slugTaken(tx, input.slug)) throw slugConflict();
          slug = input.slug;
        } else {
          slug = await freeSlug(tx, slugify(input.name));
        }
        const position = input.position ?? (await catRepo.nextPosition(tx, parentId));
        return catRepo.insertCategory(tx, { name: input.name, slug, parentId, position });
      });
      return toCategory(row);
    },

    /** Renames, re-slugs or moves a category; moving it under itself or a descendant is 409. */
    async update(id: number, patch: UpdateCategoryInput) {
      const row = await write(async (tx) => {
        const current = await catRepo.findCategory(tx, id);
        if (!current) throw new NotFound('Category not found');
        if (patch.parentId !== undefined && patch.parentId !== null) {
          await assertParentExists(tx, patch.parentId);
          if (await catRepo.isInSubtree(tx, id, patch.parentId)) {
            throw new Conflict('A category cannot be moved under itself or its own subcategory');
          }
        }
        if (patch.slug !== undefined && (await catRepo.slugTaken(tx, patch.slug, id))) throw slugConflict();
        return catRepo.updateCategory(tx, id, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.slug !== undefined ? { slug: patch.slug } : {}),
          ...(patch.parentId !== undefined ? { parentId: patch.parentId } : {}),
          ...(patch.position !== undefined ? { position: patch.position } : {}),
        });
      });
      return toCategory(row!);
    },

    /** Deletes an empty category: one with subcategories or courses (any status) is 409. */
    async remove(id: number) {
      await write(async (tx) => {
        if (!(await catRepo.findCategory(tx, id))) throw new NotFound('Category not found');
        const children = await catRepo.countChildren(tx, id);
        if (children > 0) throw new Conflict(`Category has ${children} subcategories`);
        const courseCount = await catRepo.countCoursesIn(tx, id);
        if (courseCount > 0) throw new Conflict(`Category has ${courseCount} courses`);
        await catRepo.deleteCategory(tx, id);
      });
      return { message: 'Category deleted' };
    },

    /** Tag suggestions for authoring and filtering. */
    async tags(query: { q?: string; limit: number }) {
      return { tags: await catRepo.searchTags(db, query.q, query.limit) };
    },
  };
}
export type CatalogCategories = ReturnType<typeof createCatalogCategories>;
