import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const url = z.string().url();

/**
 * Every environment variable Lectern reads. Defaults give the embedded set-up (no servers needed).
 * The README's configuration reference is this table in prose; keep the two in step.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(3000),
  PUBLIC_URL: url.optional(),
  APP_URL: url.optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  PGLITE_PATH: z.string().min(1).optional(),

  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z.string().default('lectern:'),

  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_ISSUER: z.string().min(1).default('lectern'),
  JWT_AUDIENCE: z.string().min(1).default('lectern-api'),
  ACCESS_TOKEN_TTL_SECONDS: int(60, 86_400).default(900),
  REFRESH_TOKEN_TTL_DAYS: int(1, 365).default(30),
  SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ENCRYPTION_KEY: z.string().min(32, 'must be at least 32 characters').optional(),

  CORS_ORIGINS: list.default([]),
  TRUST_PROXY: z.string().default('false'),
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  RATE_LIMIT_MAX: int(1).default(300),
  RATE_LIMIT_WINDOW_SECONDS: int(1).default(60),
  AUTH_RATE_LIMIT_MAX: int(1).default(10),
  AUTH_RATE_LIMIT_WINDOW_SECONDS: int(1).default(60),

  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  SHUTDOWN_TIMEOUT_SECONDS: int(1, 600).default(25),

  JOBS_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
  JOBS_RETRY_LIMIT: int(0, 100).default(5),
  JOBS_RETRY_DELAY_SECONDS: int(1, 3600).default(5),
  /** Outbound webhooks: delay before the first retry (doubles each retry, plus up to 100% jitter). */
  WEBHOOKS_RETRY_DELAY_SECONDS: int(1, 3600).default(30),
  /** Retries after the first attempt before a webhook delivery is dead (10 at 30 s spans ~8.5–17 h). */
  WEBHOOKS_RETRY_LIMIT: int(0, 25).default(10),
  /** Lets webhook endpoints target private, loopback, link-local and CGNAT addresses (on-premises receivers, tests). */
  WEBHOOKS_ALLOW_PRIVATE_TARGETS: bool.default(false),
  /** Days a finished webhook delivery (succeeded or dead) and its attempts are kept after its last activity. */
  WEBHOOKS_RETENTION_DAYS: int(1, 3650).default(30),

  STORAGE_DIR: z.string().min(1).optional(),
  SIGNED_URL_TTL_SECONDS: int(10, 7 * 86_400).default(3600),
  S3_BUCKET: z.string().min(3).optional(),
  S3_ENDPOINT: url.optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(true),

  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().min(3).default('Lectern <no-reply@lectern.local>'),

  /** OAuth / OpenID Connect sign-in providers; each has its own OAUTH_<NAME>_* variables (see readOAuthProviders). */
  OAUTH_PROVIDERS: list.default([]),

  /** Paystack API base URL; unset outside production means the built-in simulator at /sim/paystack. */
  PAYSTACK_BASE_URL: url.optional(),
  PAYSTACK_SECRET_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Where Paystack's hosted checkout sends the payer back to (default APP_URL/payments/callback). */
  PAYSTACK_CALLBACK_URL: url.optional(),
  /** How long after payment a student may ask for a refund themselves (admins always may). */
  REFUND_WINDOW_DAYS: int(0, 365).default(14),
  /** Paystack payments still pending after this long are verified by the reconciliation job. */
  PAYMENT_RECONCILE_AFTER_SECONDS: int(10, 86_400).default(300),
});

export type Env = z.infer<typeof envSchema>;

export type Config = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Secrets = { jwtSecret: string; signingSecret: string; encryptionKey: string };

/** One OAuth / OpenID Connect provider as configured; presets (google, facebook, linkedin) fill in the rest. */
export interface OAuthProviderSettings {
  /** Lower-case name used in URLs (`/api/auth/oauth/<name>/start`) and in `user_accounts.provider`. */
  name: string;
  clientId: string;
  clientSecret: string;
  displayName?: string;
  /** OpenID Connect issuer; endpoints come from `<issuer>/.well-known/openid-configuration`. */
  issuer?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  userinfoUrl?: string;
  scopes?: string[];
  tokenAuthMethod?: 'client_secret_basic' | 'client_secret_post';
}

const OAUTH_PROVIDER_NAME = /^[a-z][a-z0-9_]{0,49}$/;

function oauthProviderEnv(name: string, allowHttp: boolean) {
  const required = z.string({ error: `required when OAUTH_PROVIDERS lists ${name}` }).min(1);
  const endpoint = z
    .string()
    .url('must be a URL')
    .refine(
      (v) => v.startsWith('https://') || (allowHttp && v.startsWith('http://')),
      allowHttp ? 'must be an http(s) URL' : 'must be an https:// URL in production',
    );
  return z.object({
    CLIENT_ID: required.max(255),
    CLIENT_SECRET: required.max(1024),
    ISSUER: endpoint.optional(),
    AUTHORIZATION_URL: endpoint.optional(),
    TOKEN_URL: endpoint.optional(),
    USERINFO_URL: endpoint.optional(),
    SCOPES: z
      .string()
      .transform((v) => v.split(/[\s,]+/).filter(Boolean))
      .optional(),
    DISPLAY_NAME: z.string().max(50).optional(),
    TOKEN_AUTH_METHOD: z.enum(['client_secret_basic', 'client_secret_post']).optional(),
  });
}

/**
 * Reads `OAUTH_<NAME>_*` for every provider in OAUTH_PROVIDERS. Their names are only known at run
 * time, so they are validated here rather than in envSchema. OpenID Connect requires https; plain
 * http (a provider on loopback) is accepted only outside production.
 */
function readOAuthProviders(source: Record<string, string | undefined>, env: Env) {
  const problems: string[] = [];
  const providers: OAuthProviderSettings[] = [];
  const seen = new Set<string>();
  for (const raw of env.OAUTH_PROVIDERS) {
    const name = raw.toLowerCase();
    if (!OAUTH_PROVIDER_NAME.test(name)) {
      problems.push(`OAUTH_PROVIDERS: "${raw}" is not a valid name (a letter, then letters, digits or _)`);
      continue;
    }
    if (seen.has(name)) {
      problems.push(`OAUTH_PROVIDERS: ${name} is listed twice`);
      continue;
    }
    seen.add(name);
    const prefix = `OAUTH_${name.toUpperCase()}_`;
    const values = Object.fromEntries(
      Object.entries(source)
        .filter(([key, v]) => key.startsWith(prefix) && v !== undefined && v.trim() !== '')
        .map(([key, v]) => [key.slice(prefix.length), v!.trim()]),
    );
    const parsed = oauthProviderEnv(name, env.NODE_ENV !== 'production').safeParse(values);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${prefix}${i.path.join('.')}: ${i.message}`));
      continue;
    }
    const v = parsed.data;
    providers.push({
      name,
      clientId: v.CLIENT_ID,
      clientSecret: v.CLIENT_SECRET,
      displayName: v.DISPLAY_NAME,
      issuer: v.ISSUER,
      authorizationUrl: v.AUTHORIZATION_URL,
      tokenUrl: v.TOKEN_URL,
      userinfoUrl: v.USERINFO_URL,
      scopes: v.SCOPES?.length ? v.SCOPES : undefined,
      tokenAuthMethod: v.TOKEN_AUTH_METHOD,
    });
  }
  return { providers, problems };
}

function toConfig(env: Env, secrets: Secrets, oauthProviders: OAuthProviderSettings[] = []) {
  const dataDir = path.resolve(env.DATA_DIR);
  const trustProxy =
    env.TRUST_PROXY === 'false' || env.TRUST_PROXY === ''
      ? false
      : env.TRUST_PROXY === 'true'
        ? true
        : env.TRUST_PROXY.split(',').map((s) => s.trim());
  return {
    env: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    host: env.HOST,
    port: env.PORT,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, ''),
    /** The web app's base URL, for links in emails (verify, reset, invitation). */
    appUrl: (env.APP_URL ?? env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, ''),
    dataDir,
    logLevel: env.LOG_LEVEL,
    database: env.DATABASE_URL
      ? { kind: 'postgres' as const, url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX }
      : {
          kind: 'pglite' as const,
          path:
            env.PGLITE_PATH === 'memory://'
              ? 'memory://'
              : path.resolve(env.PGLITE_PATH ?? path.join(dataDir, 'db')),
        },
    redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : undefined,
    auth: {
      jwtSecret: secrets.jwtSecret,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlDays: env.REFRESH_TOKEN_TTL_DAYS,
    },
    signingSecret: secrets.signingSecret,
    encryptionKey: secrets.encryptionKey,
    http: {
      corsOrigins: env.CORS_ORIGINS,
      trustProxy,
      bodyLimit: env.BODY_LIMIT_BYTES,
      rateLimit: { max: env.RATE_LIMIT_MAX, windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS },
      authRateLimit: { max: env.AUTH_RATE_LIMIT_MAX, windowSeconds: env.AUTH_RATE_LIMIT_WINDOW_SECONDS },
    },
    metricsToken: env.METRICS_TOKEN,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    jobs: {
      pollIntervalSeconds: env.JOBS_POLL_INTERVAL_SECONDS,
      retryLimit: env.JOBS_RETRY_LIMIT,
      retryDelaySeconds: env.JOBS_RETRY_DELAY_SECONDS,
    },
    webhooks: {
      retryDelaySeconds: env.WEBHOOKS_RETRY_DELAY_SECONDS,
      retryLimit: env.WEBHOOKS_RETRY_LIMIT,
      allowPrivateTargets: env.WEBHOOKS_ALLOW_PRIVATE_TARGETS,
      retentionDays: env.WEBHOOKS_RETENTION_DAYS,
    },
    storage: env.S3_BUCKET
      ? {
          kind: 's3' as const,
          bucket: env.S3_BUCKET,
          endpoint: env.S3_ENDPOINT,
          region: env.S3_REGION,
          accessKeyId: env.S3_ACCESS_KEY_ID,
          secretAccessKey: env.S3_SECRET_ACCESS_KEY,
          forcePathStyle: env.S3_FORCE_PATH_STYLE,
          signedUrlTtlSeconds: env.SIGNED_URL_TTL_SECONDS,
        }
      : {
          kind: 'local' as const,
          dir: path.resolve(env.STORAGE_DIR ?? path.join(dataDir, 'files')),
          signedUrlTtlSeconds: env.SIGNED_URL_TTL_SECONDS,
        },
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM },
    oauth: { providers: oauthProviders, allowInsecureHttp: env.NODE_ENV !== 'production' },
    commerce: {
      refundWindowDays: env.REFUND_WINDOW_DAYS,
      reconcileAfterSeconds: env.PAYMENT_RECONCILE_AFTER_SECONDS,
      paystack: {
        /**
         * Null means: the built-in simulator outside production (reached on this server's own
         * address), and "Paystack is not configured" in production without PAYSTACK_SECRET_KEY.
         */
        baseUrl:
          env.PAYSTACK_BASE_URL?.replace(/\/$/, '') ??
          (env.NODE_ENV === 'production' && env.PAYSTACK_SECRET_KEY ? 'https://api.paystack.co' : null),
        /** The simulator is mounted (outside production) and used when no base URL is given. */
        simulator: env.NODE_ENV !== 'production',
        secretKey: env.PAYSTACK_SECRET_KEY ?? (env.NODE_ENV === 'production' ? null : SIMULATOR_SECRET_KEY),
        callbackUrl:
          env.PAYSTACK_CALLBACK_URL ??
          `${(env.APP_URL ?? env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '')}/payments/callback`,
      },
    },
  };
}

/** The Paystack simulator's secret key (development and tests only; never accepted in production). */
export const SIMULATOR_SECRET_KEY = 'sk_test_lectern_simulator_key';

/**
 * Secrets that may be left unset outside production. Development keeps generated ones in
 * DATA_DIR/secrets.json so tokens survive restarts and every local process agrees on them;
 * tests get fresh random ones.
 */
function resolveSecrets(env: Env): Secrets {
  const given = {
    jwtSecret: env.JWT_SECRET,
    signingSecret: env.SIGNING_SECRET,
    encryptionKey: env.ENCRYPTION_KEY,
  };
  const random = () => randomBytes(32).toString('base64url');
  if (given.jwtSecret && given.signingSecret && given.encryptionKey) return given as Secrets;
  if (env.NODE_ENV === 'test') {
    return {
      jwtSecret: given.jwtSecret ?? random(),
      signingSecret: given.signingSecret ?? random(),
      encryptionKey: given.encryptionKey ?? random(),
    };
  }
  const file = path.join(path.resolve(env.DATA_DIR), 'secrets.json');
  let stored: Partial<Secrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<Secrets>;
  const next: Secrets = {
    jwtSecret: stored.jwtSecret ?? random(),
    signingSecret: stored.signingSecret ?? random(),
    encryptionKey: stored.encryptionKey ?? random(),
  };
  if (Object.entries(next).some(([k, v]) => stored[k as keyof Secrets] !== v)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(next, null, 2), { mode: 0o600 });
  }
  return {
    jwtSecret: given.jwtSecret ?? next.jwtSecret,
    signingSecret: given.signingSecret ?? next.signingSecret,
    encryptionKey: given.encryptionKey ?? next.encryptionKey,
  };
}

/** Parses the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([key, v]) => v !== undefined && v !== '' && key in envSchema.shape),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const env = parsed.data;
  const problems: string[] = [];
  if (env.NODE_ENV === 'production') {
    if (!env.JWT_SECRET) problems.push('JWT_SECRET: required in production');
    if (!env.SIGNING_SECRET) problems.push('SIGNING_SECRET: required in production');
    if (!env.ENCRYPTION_KEY) problems.push('ENCRYPTION_KEY: required in production');
    if (!env.PUBLIC_URL) problems.push('PUBLIC_URL: required in production');
  }
  if (env.S3_BUCKET && (!env.S3_ACCESS_KEY_ID || !env.S3_SECRET_ACCESS_KEY)) {
    if (!env.S3_ACCESS_KEY_ID) problems.push('S3_ACCESS_KEY_ID: required when S3_BUCKET is set');
    if (!env.S3_SECRET_ACCESS_KEY) problems.push('S3_SECRET_ACCESS_KEY: required when S3_BUCKET is set');
  }
  if (env.NODE_ENV === 'production' && env.PAYSTACK_BASE_URL && !env.PAYSTACK_SECRET_KEY)
    problems.push('PAYSTACK_SECRET_KEY: required when PAYSTACK_BASE_URL is set');
  const oauth = readOAuthProviders(source, env);
  problems.push(...oauth.problems);
  if (problems.length) throw new ConfigError(problems);
  return toConfig(env, resolveSecrets(env), oauth.providers);
}
