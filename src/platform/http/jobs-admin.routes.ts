import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { NotFound } from '../errors.ts';
import { jobStates, originalQueueOf, type JobState } from '../jobs.ts';
import { bearerSecurity } from './auth.ts';
import { responses, successBody } from './envelope.ts';
import {
  encodeJobCursor,
  jobIdParams,
  jobPage,
  jobStats,
  jobView,
  listJobsQuery,
  toJobView,
} from './jobs-admin.schemas.ts';
import type { RouteContext } from './route-context.ts';

const RETRIES =
  'Failed jobs are retried with exponential backoff and jitter: the nth retry waits between `delay × 2^(n−1)` and `delay × 2^n` seconds (each queue has its own base delay and retry limit); after the last retry the job is `failed` and a copy goes to its dead-letter queue `<queue>.dead`.';

/** Admin-only view and repair of the job queues (pg-boss): list, counts, retry, delete. */
export async function jobsAdminRoutes(app: FastifyInstance, { guard, platform }: RouteContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = { onRequest: [guard.authenticate, guard.requireRole('admin')] };
  const jobs = platform.jobs.admin;

  r.get(
    '/admin/jobs',
    {
      ...admin,
      schema: {
        operationId: 'adminListJobs',
        tags: ['admin', 'jobs'],
        summary: 'List background jobs',
        description: `Newest first, filtered by \`queue\` and \`state\`, with keyset pagination (\`limit\` 1–100, default 20, and \`cursor\`). Job data is summarised: secrets removed, email addresses masked, message bodies replaced by their length. Completed jobs are archived after 12 hours and failed ones after 7 days; dead-letter copies stay for the queue's retention. ${RETRIES}`,
        security: bearerSecurity,
        querystring: listJobsQuery,
        response: responses({ data: jobPage }, [401, 403]),
      },
    },
    async (request) => {
      const { queue, state, limit, cursor } = request.query;
      const rows = await jobs.list({ queue, state, limit: limit + 1, before: cursor });
      const page = rows.slice(0, limit);
      const hasMore = rows.length > limit;
      return successBody({
        items: page.map(toJobView),
        pageInfo: { nextCursor: hasMore ? encodeJobCursor(page.at(-1)!) : null, hasMore },
      });
    },
  );

  r.get(
    '/admin/jobs/stats',
    {
      ...admin,
      schema: {
        operationId: 'adminJobStats',
        tags: ['admin', 'jobs'],
        summary: 'Job counts per queue and state',
        description:
          'Every queue, dead-letter queues (`<queue>.dead`, with `deadLetterOf`) included, with a count for each state; `totals` sums them. The same numbers are exported to `/metrics` as `lectern_job_queue_depth{queue,state}`.',
        security: bearerSecurity,
        response: responses({ data: jobStats }, [401, 403]),
      },
    },
    async () => {
      const queues = await jobs.stats();
      const totals = Object.fromEntries(jobStates.map((s) => [s, 0])) as Record<JobState, number>;
      for (const q of queues) for (const s of jobStates) totals[s] += q.counts[s];
      return successBody({
        queues: queues.map((q) => ({
          queue: q.queue,
          deadLetterOf: originalQueueOf(q.queue),
          counts: q.counts,
          total: jobStates.reduce((sum, s) => sum + q.counts[s], 0),
        })),
        totals,
      });
    },
  );

  r.get(
    '/admin/jobs/:id',
    {
      ...admin,
      schema: {
        operationId: 'adminGetJob',
        tags: ['admin', 'jobs'],
        summary: 'One background job',
        security: bearerSecurity,
        params: jobIdParams,
        response: responses({ data: jobView }, [401, 403, 404]),
      },
    },
    async (request) => {
      const job = await jobs.get(request.params.id);
      if (!job) throw new NotFound('Job not found');
      return successBody(toJobView(job));
    },
  );

  r.post(
    '/admin/jobs/:id/retry',
    {
      ...admin,
      schema: {
        operationId: 'adminRetryJob',
        tags: ['admin', 'jobs'],
        summary: 'Run a failed or dead-lettered job again',
        description:
          'A `failed` job gets one more attempt, in place. A job in a dead-letter queue is sent back to the queue it failed in (the failed original gets the extra attempt when it still exists) and its dead-letter copy is cancelled, so one failure is never retried twice. Answers the job that will run. 409 for any other state.',
        security: bearerSecurity,
        params: jobIdParams,
        response: responses({ data: jobView }, [401, 403, 404, 409]),
      },
    },
    async (request) => successBody(toJobView(await jobs.retry(request.params.id))),
  );

  r.delete(
    '/admin/jobs/:id',
    {
      ...admin,
      schema: {
        operationId: 'adminDeleteJob',
        tags: ['admin', 'jobs'],
        summary: 'Delete a job that is not running',
        description:
          'A queued or waiting job is deleted before it runs (cancelled for good); a finished or failed one is removed from the list. A running job cannot be deleted (409). Answers the job as it was.',
        security: bearerSecurity,
        params: jobIdParams,
        response: responses({ data: jobView }, [401, 403, 404, 409]),
      },
    },
    async (request) => successBody(toJobView(await jobs.delete(request.params.id))),
  );
}
