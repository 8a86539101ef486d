import { sniffImageType } from '../../platform/http/upload.ts';
import type { Db } from '../../platform/db.ts';
import { NotFound, UnsupportedMediaType, ValidationError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Storage } from '../../platform/storage.ts';
import { setAvatar } from './identity.profile.repository.ts';
import * as repo from './identity.repository.ts';

export const MAX_AVATAR_BYTES = 2 * 1024 * 1024;
/** How long the avatar route's redirect target stays valid; browsers may reuse the redirect a bit less long. */
export const AVATAR_LINK_SECONDS = 300;
export const AVATAR_REDIRECT_MAX_AGE = 240;

export interface ProfileServiceDeps {
  db: Db;
  storage: Pick<Storage, 'newKey' | 'put' | 'delete' | 'signedUrl'>;
  /** The API's public base URL: avatar URLs point at the app, never at the storage backend. */
  publicUrl: string;
  logger: Pick<Logger, 'warn'>;
}

const PUBLIC_ROLES = new Set(['instructor', 'admin']);

/** Avatar upload and serving, and the public profile of people who teach. */
export function createProfileService(deps: ProfileServiceDeps) {
  const { db, storage, logger } = deps;
  const avatarPath = (userId: number) => `/api/users/${userId}/avatar`;

  // An orphaned object costs a little space; failing the request after the change committed would mislead.
  async function deleteObject(key: string | null | undefined) {
    if (!key) return;
    await storage.delete(key).catch((err: unknown) => logger.warn({ err, key }, 'could not delete avatar'));
  }

  return {
    /** Stores a new avatar checked by its magic bytes, points the profile at it and drops the old one. */
    async uploadAvatar(userId: number, bytes: Buffer) {
      if (bytes.length === 0) {
        throw new ValidationError('Invalid input data', [
          { field: 'body.avatar', message: 'The file is empty' },
        ]);
      }
      const type = sniffImageType(bytes);
      if (!type) throw new UnsupportedMediaType('The avatar must be a PNG, JPEG or WebP image');
      const key = storage.newKey('avatars', type.ext);
      await storage.put(key, bytes, { contentType: type.contentType });
      const avatarUrl = `${deps.publicUrl}${avatarPath(userId)}`;
      let replaced: Awaited<ReturnType<typeof setAvatar>>;
      try {
        replaced = await setAvatar(db, userId, { avatarKey: key, avatarUrl });
      } catch (err) {
        await deleteObject(key);
        throw err;
      }
      if (!replaced) {
        await deleteObject(key);
        throw new NotFound('User not found');
      }
      await deleteObject(replaced.previousKey);
      return { avatarUrl, message: 'Avatar updated' };
    },

    /** Removes the avatar, uploaded or external; answers the same when there is none. */
    async removeAvatar(userId: number) {
      const replaced = await setAvatar(db, userId, { avatarKey: null, avatarUrl: null });
      if (!replaced) throw new NotFound('User not found');
      await deleteObject(replaced.previousKey);
      return { message: 'Avatar removed' };
    },

    /**
     * A short-lived signed URL of a user's uploaded avatar. Only while the profile still points at
     * it: someone who switched to an external picture no longer publishes the uploaded one.
     */
    async avatarLink(userId: number): Promise<string> {
      const user = await repo.findUserById(db, userId);
      if (
        !user ||
        user.deletedAt ||
        user.status !== 'active' ||
        !user.avatarKey ||
        !user.avatarUrl?.endsWith(avatarPath(userId))
      ) {
        throw new NotFound('Avatar not found');
      }
      return storage.signedUrl(user.avatarKey, { expiresInSeconds: AVATAR_LINK_SECONDS });
    },

    /** The public profile of an active instructor or admin; everyone else is 404 so students cannot be enumerated. */
    async publicProfile(userId: number) {
      const user = await repo.findUserById(db, userId);
      if (!user || user.deletedAt || user.status !== 'active' || !PUBLIC_ROLES.has(user.role)) {
        throw new NotFound('User not found');
      }
      return {
        userId: user.id,
        name: user.name,
        username: user.username,
        avatarUrl: user.avatarUrl,
        bio: user.bio,
        role: user.role as 'instructor' | 'admin',
        // Filled from the catalog module's API once it exists.
        publishedCourses: [] as Array<{ courseId: number; title: string }>,
      };
    },
  };
}
export type ProfileService = ReturnType<typeof createProfileService>;
