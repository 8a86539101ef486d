import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type Config } from './platform/config.ts';
import { canonicalSpec } from './platform/http/openapi.ts';
import { createLogger } from './platform/logger.ts';
import { createPlatform, type ProcessRole } from './platform/platform.ts';
import { createCatalogModule } from './modules/catalog/index.ts';
import { createIdentityModule } from './modules/identity/index.ts';
import { createPrompter } from './cli/prompt.ts';
import { seedDemo } from './cli/seed.ts';
import { auditCommand } from './cli/audit.ts';

const USAGE = `Usage: lectern <command> [options]

Commands:
  serve [--role all|api|worker] [--port N]   Run the platform (default role: all)
  migrate                                     Apply database migrations and exit
  create-admin [--email E] [--password P] [--name N]
                                              Create an admin account (prompts for what is missing)
  seed [--demo] [--courses N]                 Load demo data (accounts and a 40-course catalog), or N generated courses for benchmarks
  openapi [--out FILE] [--check FILE]         Write the OpenAPI document, or check a committed copy
  audit verify                                Check the audit log's hash chain; exit 1 naming the first broken row
`;

class CliError extends Error {}

async function serve(config: Config, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { role: { type: 'string', default: 'all' }, port: { type: 'string' } },
  });
  const role = values.role as ProcessRole;
  if (!['all', 'api', 'worker'].includes(role))
    throw new CliError(`--role must be all, api or worker (got "${values.role}")`);
  let port = config.port;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError(`--port must be 0–65535 (got "${values.port}")`);
  }
  const logger = createLogger(config.logLevel);
  const app = await buildApp({ config, role, logger });
  await app.listen({ host: config.host, port });
  logger.info(
    {
      role,
      url: `http://${config.host}:${port}`,
      database: config.database.kind,
      redis: Boolean(config.redis),
    },
    'lectern is serving',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests and jobs');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    app.close().then(
      () => {
        logger.info('shutdown complete');
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Runs `fn` with platform services and the modules, without HTTP or job workers. */
async function withPlatform<T>(
  config: Config,
  fn: (ctx: {
    platform: Awaited<ReturnType<typeof createPlatform>>;
    identity: ReturnType<typeof createIdentityModule>;
    catalog: ReturnType<typeof createCatalogModule>;
  }) => Promise<T>,
) {
  const platform = await createPlatform(config, { role: 'api', logger: createLogger('warn') });
  try {
    const identity = createIdentityModule(platform);
    const catalog = createCatalogModule({ platform, identity: identity.api });
    await platform.jobs.start();
    return await fn({ platform, identity, catalog });
  } finally {
    await platform.close();
  }
}

/** A one-line progress bar on stderr. */
function progress(done: number, total: number) {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor((done / total) * 100)}% ${done}/${total}`,
  );
  if (done === total) process.stderr.write('\n');
}

async function createAdmin(config: Config, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
  });
  let { email, password } = values;
  if (!email || !password) {
    const prompter = createPrompter();
    try {
      email ??= await prompter.ask('Email: ');
      password ??= await prompter.ask('Password (8–128 characters): ', { hidden: true });
    } finally {
      prompter.close();
    }
  }
  const name = values.name ?? 'Administrator';
  await withPlatform(config, async ({ identity }) => {
    const user = await identity.api.createUser({ email, password, name, role: 'admin' });
    console.log(`Created admin ${user.email} (id ${user.id}).`);
  });
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  const config = loadConfig();
  switch (command) {
    case 'serve':
      return serve(config, rest);
    case 'migrate': {
      const platform = await createPlatform(config, { role: 'api', logger: createLogger('warn') });
      await platform.jobs.start(); // installs or upgrades the job queue schema too
      await platform.close();
      console.log(`Migrations applied (${config.database.kind}).`);
      return;
    }
    case 'create-admin':
      return createAdmin(config, rest);
    case 'seed': {
      const { values } = parseArgs({
        args: rest,
        options: { demo: { type: 'boolean', default: false }, courses: { type: 'string' } },
      });
      const count = values.courses === undefined ? 0 : Number(values.courses);
      if (values.courses !== undefined && (!Number.isInteger(count) || count < 1 || count > 1_000_000)) {
        throw new CliError(`--courses must be a whole number from 1 to 1000000 (got "${values.courses}")`);
      }
      if (!values.demo && !count) throw new CliError('seed needs --demo and/or --courses N');
      await withPlatform(config, async ({ identity, catalog }) => {
        // Generated courses need instructors, so the demo accounts always come first.
        const accounts = await seedDemo({ identity: identity.api });
        console.log(accounts.summary);
        if (values.demo) {
          const result = await catalog.seed.demo(accounts.instructors);
          console.log(
            result.courses
              ? `Demo catalog: ${result.categories} categories, ${result.courses} courses with sections and lessons.`
              : 'Demo catalog already present.',
          );
        }
        if (count) {
          const made = await catalog.seed.generate({
            count,
            instructors: accounts.instructors,
            onProgress: progress,
          });
          console.log(`Generated ${made} published courses (statistics refreshed with VACUUM ANALYZE).`);
        }
      });
      return;
    }
    case 'audit': {
      const line = await withPlatform(config, ({ platform }) => auditCommand(platform.db, rest));
      console.log(line);
      return;
    }
    case 'openapi': {
      const { values } = parseArgs({
        args: rest,
        options: { out: { type: 'string' }, check: { type: 'string' } },
      });
      // The document depends only on the code: build it on a throwaway embedded set-up.
      const app = await buildApp({
        config: loadConfig({ NODE_ENV: 'test', PGLITE_PATH: 'memory://', LOG_LEVEL: 'silent' }),
        role: 'api',
      });
      await app.ready();
      const spec = canonicalSpec(app);
      await app.close();
      if (values.check) {
        const committed = readFileSync(values.check, 'utf8');
        if (committed !== spec)
          throw new CliError(`${values.check} is out of date: run \`npm run openapi\` and commit it`);
        console.log(`${values.check} matches the generated document.`);
      } else if (values.out) {
        writeFileSync(values.out, spec);
        console.log(`Wrote ${values.out}.`);
      } else process.stdout.write(spec);
      return;
    }
    default:
      throw new CliError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`lectern: ${err.message}`);
  else if (err instanceof CliError) console.error(`lectern: ${err.message}`);
  else if (err instanceof Error && 'statusCode' in err)
    console.error(
      `lectern: ${err.message}${'details' in err && Array.isArray(err.details) ? ` (${err.details.map((d: { field: string; message: string }) => `${d.field}: ${d.message}`).join('; ')})` : ''}`,
    );
  else console.error(`lectern: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
