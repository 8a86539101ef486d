import { createHmac } from 'node:crypto';
import { safeEqual } from '../../platform/crypto.ts';
import type { Db, DbOrTx } from '../../platform/db.ts';
import { ValidationError } from '../../platform/errors.ts';
import * as repo from './notifications.preferences.repository.ts';
import { notificationCategory, notificationChannel } from './notifications.tables.ts';

export type Category = repo.Category;
export type Channel = repo.PreferenceChannel;
export const CATEGORIES = notificationCategory.enumValues;
export const CHANNELS = notificationChannel.enumValues;
/** Account and security messages always reach the user; their switches cannot be turned off. */
export const ALWAYS_ON: readonly Category[] = ['account'];
/** Categories that start switched off until the user opts in. */
const OFF_BY_DEFAULT: readonly Category[] = ['marketing'];

export type PreferenceMatrix = Record<Category, Record<Channel, boolean>>;

export interface PreferencesView {
  preferences: PreferenceMatrix;
  dailyDigest: boolean;
  alwaysOn: Category[];
}

export type PreferencesPatch = {
  preferences?: Partial<Record<Category, Partial<Record<Channel, boolean>>>>;
  dailyDigest?: boolean;
};

const defaults = (category: Category): Record<Channel, boolean> => {
  const on = !OFF_BY_DEFAULT.includes(category);
  return { email: on, in_app: on, push: on };
};

/** A user's effective switches: stored rows over the defaults; `account` is always on. */
export async function preferenceMatrix(db: DbOrTx, userId: number): Promise<PreferenceMatrix> {
  const rows = await repo.listPreferences(db, userId);
  const matrix: PreferenceMatrix = {
    account: defaults('account'),
    course_updates: defaults('course_updates'),
    payments: defaults('payments'),
    reminders: defaults('reminders'),
    marketing: defaults('marketing'),
  };
  for (const row of rows) {
    if (!ALWAYS_ON.includes(row.category)) matrix[row.category][row.channel] = row.enabled;
  }
  return matrix;
}

/** Unsubscribe links carry `<userId>.<scope>.<signature>`; the scope is a category or `digest`. */
export type UnsubscribeScope = Exclude<Category, 'account'> | 'digest';
const SCOPES: readonly string[] = [...CATEGORIES.filter((c) => !ALWAYS_ON.includes(c)), 'digest'];
const isScope = (s: string): s is UnsubscribeScope => SCOPES.includes(s);

/**
 * Preferences (`GET`/`PUT /api/notifications/preferences`) and the signed one-click unsubscribe
 * links of non-essential emails. Tokens are an HMAC-SHA256 under the server's signing secret over
 * the user id and scope: they never expire (old emails keep working, as RFC 8058 expects), and
 * any change to the id, the scope or the signature makes them invalid.
 */
export function createPreferences({ db, signingSecret }: { db: Db; signingSecret: string }) {
  const sign = (userId: number, scope: string) =>
    createHmac('sha256', signingSecret)
      .update(`notifications.unsubscribe:v1:${userId}:${scope}`)
      .digest('base64url');

  /** The user and scope a token names; 400 when it is malformed or not signed by this server. */
  function checkToken(token: string): { userId: number; scope: UnsubscribeScope } {
    const match = /^([1-9][0-9]{0,9})\.([a-z_]{1,40})\.([A-Za-z0-9_-]{43})$/.exec(token);
    const userId = match ? Number(match[1]) : 0;
    const scope = match?.[2] ?? '';
    if (!match || userId > 2_147_483_647 || !isScope(scope) || !safeEqual(match[3]!, sign(userId, scope))) {
      throw new ValidationError('Invalid or altered unsubscribe link', [
        { field: 'querystring.token', message: 'Invalid or altered unsubscribe link' },
      ]);
    }
    return { userId, scope };
  }

  async function view(userId: number): Promise<PreferencesView> {
    const [preferences, settings] = await Promise.all([
      preferenceMatrix(db, userId),
      repo.findSettings(db, userId),
    ]);
    return { preferences, dailyDigest: settings?.dailyDigest ?? false, alwaysOn: [...ALWAYS_ON] };
  }

  return {
    get: view,

    /** Applies a partial change; turning an always-on category off is 400 and changes nothing. */
    async update(userId: number, patch: PreferencesPatch): Promise<PreferencesView> {
      const rows: Array<{ category: Category; channel: Channel; enabled: boolean }> = [];
      const refused: Array<{ field: string; message: string }> = [];
      for (const category of CATEGORIES) {
        for (const channel of CHANNELS) {
          const enabled = patch.preferences?.[category]?.[channel];
          if (enabled === undefined) continue;
          if (ALWAYS_ON.includes(category)) {
            if (!enabled)
              refused.push({
                field: `body.preferences.${category}.${channel}`,
                message: 'Account and security notifications cannot be turned off',
              });
            continue;
          }
          rows.push({ category, channel, enabled });
        }
      }
      if (refused.length) throw new ValidationError('Invalid input data', refused);
      await db.transaction(async (tx) => {
        await repo.upsertPreferences(tx, userId, rows);
        if (patch.dailyDigest !== undefined) await repo.upsertSettings(tx, userId, patch.dailyDigest);
      });
      return view(userId);
    },

    /**
     * What a signed link would turn off, and whether it is off already, changing nothing (the
     * page a browser sees before confirming). A bad token is 400.
     */
    async inspectUnsubscribe(
      token: string,
    ): Promise<{ userId: number; scope: UnsubscribeScope; alreadyOff: boolean }> {
      const { userId, scope } = checkToken(token);
      const alreadyOff =
        scope === 'digest'
          ? !((await repo.findSettings(db, userId))?.dailyDigest ?? false)
          : !(await preferenceMatrix(db, userId))[scope].email;
      return { userId, scope, alreadyOff };
    },

    /** The token of an unsubscribe link for this user and scope. */
    unsubscribeToken(userId: number, scope: UnsubscribeScope): string {
      return `${userId}.${scope}.${sign(userId, scope)}`;
    },

    /**
     * Turns off what a signed link names: email for a category, or the daily digest. Works
     * without login; a token that is malformed or not signed by this server is 400, changing nothing.
     */
    async unsubscribe(token: string): Promise<{ userId: number; scope: UnsubscribeScope }> {
      const { userId, scope } = checkToken(token);
      await db.transaction(async (tx) => {
        if (scope === 'digest') await repo.upsertSettings(tx, userId, false);
        else
          await repo.upsertPreferences(tx, userId, [{ category: scope, channel: 'email', enabled: false }]);
      });
      return { userId, scope };
    },
  };
}
export type Preferences = ReturnType<typeof createPreferences>;
