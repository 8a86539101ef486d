import type { Config } from './config.ts';
import { createCache } from './cache.ts';
import { openDatabase } from './db.ts';
import { createEvents } from './events.ts';
import { createJobs } from './jobs.ts';
import type { Logger } from './logger.ts';
import { createMailer } from './mail.ts';
import { createMetrics } from './metrics.ts';
import { createRedis, waitForRedis } from './redis.ts';
import { createStorage } from './storage.ts';
import { createSealer } from './crypto.ts';
import { createThrottle } from './throttle.ts';

export type ProcessRole = 'all' | 'api' | 'worker';

/**
 * The cross-cutting services every module receives: database, jobs, cache, storage, mail, metrics.
 * Each picks its embedded or production implementation from configuration alone.
 */
export async function createPlatform(
  config: Config,
  options: { role: ProcessRole; logger: Logger; migrate?: boolean },
) {
  const { logger, role } = options;
  const metrics = createMetrics();
  const database = await openDatabase(config.database);
  try {
    if (options.migrate !== false) await database.migrate();
  } catch (err) {
    await database.close();
    throw err;
  }
  const redis = config.redis ? createRedis(config.redis.url) : undefined;
  redis?.on('error', (err) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  if (redis && !(await waitForRedis(redis))) logger.error('redis is not reachable; starting degraded');
  const cache = createCache({
    redis,
    keyPrefix: config.redis?.keyPrefix ?? 'lectern:',
    metrics,
    onDeferred: (err, scope) =>
      logger.warn({ err, scope }, 'cache invalidation deferred: Redis refused it; retrying until it lands'),
  });
  const jobs = createJobs({
    database,
    logger,
    metrics,
    workers: role !== 'api',
    pollIntervalSeconds: config.jobs.pollIntervalSeconds,
    retryLimit: config.jobs.retryLimit,
    retryDelaySeconds: config.jobs.retryDelaySeconds,
  });
  const storage = createStorage(config.storage, {
    signingSecret: config.signingSecret,
    publicUrl: config.publicUrl,
  });
  const mailer = createMailer({ config: config.mail, database, jobs, logger });
  const events = createEvents({ database, jobs });
  const throttle = createThrottle({
    redis,
    keyPrefix: config.redis?.keyPrefix ?? 'lectern:',
    onError: (err) => logger.warn({ err }, 'throttle unavailable; attempt not counted'),
  });
  const sealer = createSealer(config.encryptionKey);

  let closed = false;
  return {
    config,
    role,
    logger,
    metrics,
    database,
    db: database.db,
    redis,
    cache,
    jobs,
    events,
    throttle,
    sealer,
    storage,
    mailer,
    /** Stops job workers (letting running jobs finish), then closes Redis and the database. */
    async close() {
      if (closed) return;
      closed = true;
      await jobs
        .stop(Math.max(1000, config.shutdownTimeoutMs - 2000))
        .catch((err) => logger.error({ err }, 'stopping jobs failed'));
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await database.close();
    },
  };
}
export type Platform = Awaited<ReturnType<typeof createPlatform>>;
