import type { Cache } from '../../platform/cache.ts';

/**
 * Cache keys and tags of the catalog. Course detail is tagged with its course; every listing
 * (catalog pages, popular, search, seed 002 list) with `catalog:listing`. Any change to a course
 * that a visitor can see drops both, before the write's response is sent (if Redis refuses, the drop
 * is retried until it lands and this process bypasses Redis meanwhile: see platform/cache.ts).
 */
export const catalogCache = {
  courseKey: (id: number) => `course:${id}`,
  courseTag: (id: number) => `course:${id}`,
  listingTag: 'catalog:listing',
  /** Listing keys share this namespace so metrics group them (`catalog` hits and misses). */
  listingKey: (kind: string, query: unknown) => `catalog:${kind}:${JSON.stringify(query)}`,
  TTL_SECONDS: 300,
  /**
   * Listings are also kept in each process for this long, so a hit costs no Redis round trip. The
   * process that runs an edit drops its copies before the edit returns; other processes drop theirs
   * when Redis delivers the invalidation (see createLocalTier in platform/cache.ts for the bound).
   */
  LOCAL_TTL_SECONDS: 2,

  /** Drops a course's detail and every listing; call after the change committed. */
  async invalidateCourse(cache: Cache, courseId: number) {
    await Promise.all([
      cache.delByTag(catalogCache.courseTag(courseId)),
      cache.delByTag(catalogCache.listingTag),
    ]);
  },
  async invalidateListings(cache: Cache) {
    await cache.delByTag(catalogCache.listingTag);
  },
};
