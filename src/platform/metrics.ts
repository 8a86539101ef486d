import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so several apps (tests, roles) never share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lectern_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'lectern_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    jobsProcessed: new Counter({
      name: 'lectern_jobs_processed_total',
      help: 'Jobs processed by queue and outcome (completed, failed)',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    }),
    jobsDeadLettered: new Counter({
      name: 'lectern_jobs_dead_lettered_total',
      help: 'Jobs that failed their last attempt and went to the dead-letter queue, by queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    jobsEnqueued: new Counter({
      name: 'lectern_jobs_enqueued_total',
      help: 'Jobs enqueued by queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'lectern_job_duration_seconds',
      help: 'Job handler duration by queue',
      labelNames: ['queue'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers: [registry],
    }),
    cacheRequests: new Counter({
      name: 'lectern_cache_requests_total',
      help: 'Cache lookups by namespace and result (hit, miss)',
      labelNames: ['namespace', 'result'] as const,
      registers: [registry],
    }),
    /** Registers a gauge whose value is read at scrape time. */
    gauge(name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void> | void) {
      return new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        async collect() {
          await collect(this);
        },
      });
    },
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
