import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { CommerceApi } from '../commerce/index.ts';
import type { IdentityApi } from '../identity/index.ts';

export interface EnrollmentDeps {
  platform: Platform;
  identity: IdentityApi;
  catalog: CatalogApi;
  commerce: CommerceApi;
}

type RoutePlugin = (app: FastifyInstance, ctx: RouteContext) => Promise<void>;

/** The enrollment module: who may learn which course (seed 002's Enrollment Service). */
export function createEnrollmentModule({ platform, identity, catalog, commerce }: EnrollmentDeps) {
  const routePlugins: RoutePlugin[] = [];

  // ── enrollment ──
  // ── end enrollment ──

  void platform;
  void identity;
  void catalog;
  void commerce;
  return {
    api: {
      // ── api ──
      // ── end api ──
    },
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type EnrollmentModule = ReturnType<typeof createEnrollmentModule>;
export type EnrollmentApi = EnrollmentModule['api'];
