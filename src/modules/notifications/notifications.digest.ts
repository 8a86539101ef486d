import type { Platform } from '../../platform/platform.ts';
import type { CatalogReads, EnrollmentReads } from './notifications.deps.ts';
import type { Dispatcher } from './notifications.dispatch.ts';
import * as prefsRepo from './notifications.preferences.repository.ts';
import * as repo from './notifications.repository.ts';
import { dailyDigest, inactivityReminder } from './templates/index.ts';

export const DIGEST_JOB = 'notifications.sendDailyDigests';
export const INACTIVITY_JOB = 'notifications.remindInactiveStudents';
/** Cron (UTC): the digest at 07:00, inactivity reminders at 09:00. */
export const DIGEST_CRON = '0 7 * * *';
export const INACTIVITY_CRON = '0 9 * * *';
export const INACTIVITY_DAYS = 7;
const DAY_MS = 86_400_000;
const PAGE = 200;
/** The digest lists the newest unread notifications up to this many, and counts the rest. */
const DIGEST_ITEMS = 20;

const utcDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The two scheduled jobs: the daily digest of unread in-app notifications (users who turned it
 * on) and inactivity reminders. Both walk their users in pages and write each user's messages in
 * a transaction of their own, keyed by the UTC day, so a rerun on the same day sends nothing twice.
 *
 * "Activity" is what the enrollment module reports as `lastActivityAt`: today the enrollment's
 * last change (its start, or its last status change), as no lesson reads or progress are recorded
 * yet; once they are, reminders follow them without change here. An enrollment is reminded at
 * most once in any 7 days.
 */
export function registerScheduledJobs(deps: {
  platform: Pick<Platform, 'db' | 'jobs' | 'config'>;
  catalog: CatalogReads;
  enrollment: Pick<EnrollmentReads, 'listInactiveEnrollments'>;
  dispatcher: Dispatcher;
}) {
  const { db, jobs, config } = deps.platform;
  const { dispatcher } = deps;

  async function sendDigests() {
    const now = new Date();
    const dayStart = new Date(`${utcDay(now)}T00:00:00.000Z`);
    for (let after = 0; ;) {
      const subscribers = await prefsRepo.listDigestSubscribers(db, after, PAGE);
      for (const { userId } of subscribers) {
        const recipient = await dispatcher.recipientOf(userId);
        if (!recipient) continue;
        await db.transaction(async (tx) => {
          const claim = await prefsRepo.claimDigest(tx, userId, dayStart, now);
          if (!claim) return;
          const { rows, total } = await repo.listUnreadSince(tx, userId, claim.previous, DIGEST_ITEMS);
          if (total === 0) return; // nothing unread since the last digest: no email
          await dispatcher.notify(tx, {
            recipient,
            template: dailyDigest,
            vars: {
              items: rows.map((n) => ({
                notificationId: n.id,
                title: n.title,
                body: n.body,
                createdAt: n.createdAt.toISOString(),
              })),
              total,
              inboxUrl: `${config.appUrl}/notifications`,
            },
            channels: ['email'],
            dedupeKey: `daily_digest:${userId}:${utcDay(now)}`,
            ignorePreferences: true,
          });
        });
      }
      if (subscribers.length < PAGE) return;
      after = subscribers.at(-1)!.userId;
    }
  }

  async function remindInactive() {
    const now = new Date();
    const before = new Date(now.getTime() - INACTIVITY_DAYS * DAY_MS);
    const courses = new Map<number, Awaited<ReturnType<CatalogReads['getCourse']>>>();
    for (let afterId = 0; ;) {
      const batch = await deps.enrollment.listInactiveEnrollments({ before, afterId, limit: PAGE });
      for (const e of batch) {
        const key = { field: 'enrollmentId', value: e.enrollmentId };
        if (await repo.hasRecentNotificationFor(db, e.userId, inactivityReminder.name, key, before)) continue;
        if (!courses.has(e.courseId)) courses.set(e.courseId, await deps.catalog.getCourse(e.courseId));
        const course = courses.get(e.courseId);
        if (!course || course.status !== 'published') continue;
        const recipient = await dispatcher.recipientOf(e.userId);
        if (!recipient) continue;
        await db.transaction(async (tx) => {
          if (await repo.hasRecentNotificationFor(tx, e.userId, inactivityReminder.name, key, before)) return;
          await dispatcher.notify(tx, {
            recipient,
            template: inactivityReminder,
            vars: {
              enrollmentId: e.enrollmentId,
              courseId: e.courseId,
              courseTitle: course.title,
              courseUrl: `${config.appUrl}/courses/${encodeURIComponent(course.slug)}`,
              inactiveDays: Math.max(
                INACTIVITY_DAYS,
                Math.floor((now.getTime() - Date.parse(e.lastActivityAt)) / DAY_MS),
              ),
            },
            channels: ['in_app', 'email'],
            dedupeKey: `inactivity_reminder:${e.enrollmentId}:${utcDay(now)}`,
          });
        });
      }
      if (batch.length < PAGE) return;
      afterId = batch.at(-1)!.enrollmentId;
    }
  }

  jobs.define({ name: DIGEST_JOB, handler: sendDigests, retryLimit: 3, expireInSeconds: 3600 });
  jobs.define({ name: INACTIVITY_JOB, handler: remindInactive, retryLimit: 3, expireInSeconds: 3600 });
  jobs.schedule(DIGEST_JOB, DIGEST_CRON);
  jobs.schedule(INACTIVITY_JOB, INACTIVITY_CRON);
}
