import { z } from 'zod';
import { idCursor as cursor, pageInfo, pageLimit as limit } from '../../platform/http/pagination.ts';

export const adminRole = z.enum(['student', 'instructor', 'admin']);
export const adminStatus = z.enum(['active', 'suspended', 'deleted']).meta({
  description: '`suspended`: signed out and refused sign-in; `deleted`: deactivated and anonymised',
});

export const listUsersQuery = z.strictObject({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: 'Case-insensitive substring of name, email or username' }),
  role: adminRole.optional(),
  status: adminStatus.optional(),
  limit,
  cursor,
});

export const userIdParams = z.strictObject({ id: z.coerce.number().int().positive().max(2_147_483_647) });

export const adminUserItem = z.object({
  userId: z.number().int(),
  email: z.string().nullable().meta({ description: 'null once the account is deleted (anonymised)' }),
  username: z.string().nullable(),
  name: z.string(),
  role: adminRole,
  status: adminStatus,
  isEmailVerified: z.boolean(),
  createdAt: z.string(),
  lastLoginAt: z.string().nullable().meta({ description: 'When the newest session was opened' }),
});

export const adminUserDetail = adminUserItem.extend({
  liveSessions: z.number().int().meta({ description: 'Signed-in devices right now' }),
  hasPassword: z
    .boolean()
    .meta({ description: 'false while an invitation is pending (or for OAuth-only accounts)' }),
});

export const userPage = z.object({ items: z.array(adminUserItem), pageInfo });

const email = z
  .email({ error: 'Must be a valid email address' })
  .trim()
  .max(254)
  .meta({ example: 'ada@school.example' });
const name = z.string().trim().min(1, 'Must not be empty').max(100).meta({ example: 'Ada Lovelace' });

export const createUserBody = z.strictObject({
  email,
  name,
  role: z.enum(['instructor', 'admin']).meta({ description: 'Students register themselves' }),
});

export const createdUser = z.object({
  userId: z.number().int(),
  message: z.string().meta({ example: 'Invitation sent' }),
});

export const updateUserBody = z
  .strictObject({
    role: adminRole.optional(),
    status: z
      .enum(['active', 'suspended'])
      .optional()
      .meta({ description: '`suspended` signs the user out everywhere at once; `active` reactivates' }),
  })
  .refine((b) => b.role !== undefined || b.status !== undefined, {
    message: 'Provide role or status',
  });

export const acceptInvitationBody = z.strictObject({
  token: z
    .string()
    .min(20, 'Invalid or expired invitation')
    .max(200, 'Invalid or expired invitation')
    .meta({ description: 'The `token` query parameter of the invitation link' }),
  password: z
    .string()
    .min(8, 'Must be at least 8 characters')
    .max(128, 'Must be at most 128 characters')
    .meta({ example: 'correct horse battery staple' }),
  name: name.optional().meta({ description: 'Corrects the name the admin entered' }),
});

const booleanQuery = z
  .enum(['true', 'false'], { error: 'Must be true or false' })
  .transform((v) => v === 'true');
const isoTime = z.iso.datetime({ offset: true, error: 'Must be an ISO 8601 date-time' });

export const listAuditQuery = z
  .strictObject({
    actorId: z.coerce.number().int().positive().optional(),
    subjectId: z.coerce.number().int().positive().optional(),
    action: z
      .string()
      .regex(/^[a-z0-9_.]{1,64}$/, 'Must be an action such as user.suspended, or a prefix such as login.')
      .optional()
      .meta({ description: 'Exact action, or a prefix ending in `.` (`login.` matches every login action)' }),
    success: booleanQuery.optional(),
    from: isoTime.optional().meta({ description: 'Rows created at or after this time' }),
    to: isoTime.optional().meta({ description: 'Rows created before this time' }),
    limit,
    cursor,
  })
  .refine((q) => !q.from || !q.to || new Date(q.from) <= new Date(q.to), {
    message: '`from` must not be after `to`',
    path: ['from'],
  });

export const auditItem = z.object({
  id: z.number().int(),
  action: z.string().meta({ example: 'user.suspended' }),
  actorId: z.number().int().nullable(),
  subjectId: z.number().int().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  success: z.boolean(),
  detail: z.string().nullable(),
  createdAt: z.string(),
});

export const auditPage = z.object({ items: z.array(auditItem), pageInfo });

export const auditVerification = z.object({
  ok: z.boolean(),
  checked: z.number().int().meta({ description: 'Rows examined (up to and including the first broken one)' }),
  firstBrokenId: z.number().int().nullable(),
  reason: z.string().nullable(),
});
