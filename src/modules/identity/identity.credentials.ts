import { createHash, randomBytes } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { Role } from '../../platform/http/auth.ts';

// OWASP's argon2id baseline (19 MiB, 2 iterations, 1 lane). `Algorithm` is a const enum; 2 is Argon2id.
const ARGON2 = { algorithm: 2 as Algorithm, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

// Verified against when the email is unknown, so both failures take the same time.
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(
  passwordHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  if (!passwordHash) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  return verify(passwordHash, password).catch(() => false);
}

let common: Set<string> | undefined;

/** Why a password is refused, or null. Length is checked by the request schema (8–128). */
export function passwordProblem(password: string, context: { email: string; name?: string }): string | null {
  common ??= new Set(dictionary['passwords-common'].filter((p) => p.length >= 8));
  const lower = password.toLowerCase();
  if (common.has(lower)) return 'This password is too common; choose another';
  const local = context.email.toLowerCase().split('@')[0] ?? '';
  if (lower === context.email.toLowerCase() || (local.length >= 4 && lower === local)) {
    return 'The password must not be your email address';
  }
  if (/^(.)\1+$/.test(password)) return 'The password must not be one repeated character';
  return null;
}

/** Opaque refresh token: 256 random bits; only its SHA-256 is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface AccessClaims {
  userId: number;
  role: Role;
  sessionId: number;
}

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

const ALGORITHM = 'HS256';

export function createAccessTokens(settings: TokenSettings) {
  const key = new TextEncoder().encode(settings.secret);
  return {
    async sign(claims: AccessClaims): Promise<string> {
      return new SignJWT({ role: claims.role, sid: claims.sessionId })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(String(claims.userId))
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt()
        .setExpirationTime(`${settings.ttlSeconds}s`)
        .sign(key);
    },
    /** Verifies signature (HS256 only), issuer, audience and expiry; null when anything is off. */
    async verify(token: string): Promise<AccessClaims | null> {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: settings.issuer,
          audience: settings.audience,
          requiredClaims: ['sub', 'exp', 'iat', 'sid'],
        });
        const userId = Number(payload.sub);
        const sessionId = Number(payload.sid);
        if (!Number.isSafeInteger(userId) || !Number.isSafeInteger(sessionId)) return null;
        return { userId, sessionId, role: payload.role as Role };
      } catch (err) {
        if (err instanceof joseErrors.JOSEError) return null;
        throw err;
      }
    },
  };
}
export type AccessTokens = ReturnType<typeof createAccessTokens>;
