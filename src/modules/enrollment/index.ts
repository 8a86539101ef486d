import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { CommerceApi } from '../commerce/index.ts';
import type { IdentityApi } from '../identity/index.ts';
import {
  ORDER_REFUNDED,
  PAYMENT_SUCCEEDED,
  type OrderRefunded,
  type PaymentSucceeded,
} from '../commerce/index.ts';
import { createEnrollmentContent } from './enrollment.content.ts';
import { enrollmentRoutes } from './enrollment.routes.ts';
import { createEnrollmentService } from './enrollment.service.ts';

export * from './enrollment.events.ts';

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
  const enrollments = createEnrollmentService({ platform, identity, catalog, payments: commerce });
  const content = createEnrollmentContent({ platform, catalog });
  catalog.setEnrollmentCheck(enrollments.hasEnrollments);
  commerce.setPurchaseCheck(enrollments.assertCanBuy);
  catalog.setLessonAccessCheck(content.checkLessonAccess);
  identity.registerExportContributor('enrollment', async (userId) => ({
    enrollments: await enrollments.exportFor(userId),
  }));
  platform.events.subscribe<PaymentSucceeded>({
    event: PAYMENT_SUCCEEDED,
    consumer: 'enrollment.enrollBuyer',
    handle: (event, tx) => enrollments.enrollFromPayment(tx, event.payload),
  });
  platform.events.subscribe<OrderRefunded>({
    event: ORDER_REFUNDED,
    consumer: 'enrollment.revokeRefunded',
    handle: (event, tx) => enrollments.revokeForRefund(tx, event.payload),
  });
  routePlugins.push(enrollmentRoutes(enrollments, content));
  // ── end enrollment ──

  void platform;
  void identity;
  void catalog;
  void commerce;
  return {
    api: {
      // ── api ──
      /** The user's live (not revoked) enrollment in a course, or null. */
      findLiveEnrollment: enrollments.findLiveEnrollment,
      /** Whether the user has a live (not revoked) enrollment in the course. */
      isEnrolled: enrollments.isEnrolled,
      /** A course's current students' user ids, ascending, in pages (`afterUserId`, `limit` ≤ 1000). */
      listStudentIds: enrollments.listStudentIds,
      /** Course ids of the user's live enrollments. */
      listCourseIds: enrollments.listCourseIds,
      /** In-progress enrollments with no recorded activity since `before` (reminders), by id after `afterId`. */
      listInactiveEnrollments: enrollments.listInactiveEnrollments,
      // ── end api ──
    },
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
  };
}
export type EnrollmentModule = ReturnType<typeof createEnrollmentModule>;
export type EnrollmentApi = EnrollmentModule['api'];
