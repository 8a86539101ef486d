import { z } from 'zod';
import { defineTemplate } from './define.ts';
import { html } from './html.ts';
import { button, entries, paragraph } from './layout.ts';

/** The morning email listing in-app notifications still unread (for users who opted in). */
export const dailyDigest = defineTemplate(
  z.object({
    items: z
      .array(
        z.object({
          notificationId: z.number().int().positive(),
          title: z.string(),
          body: z.string(),
          createdAt: z.string(),
        }),
      )
      .min(1),
    /** Unread notifications in all, of which `items` are the newest. */
    total: z.number().int().positive(),
    inboxUrl: z.string().url(),
  }),
  {
    name: 'daily_digest',
    category: 'reminders',
    inApp: (v) => ({
      title: 'Your daily digest',
      body: `You have ${v.total} unread notification${v.total === 1 ? '' : 's'}.`,
    }),
    subject: (v) => `Your Lectern digest: ${v.total} unread notification${v.total === 1 ? '' : 's'}`,
    reason: () =>
      'You receive this digest because you turned on the daily digest in your notification settings.',
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `You have ${v.total} unread notification${v.total === 1 ? '' : 's'}:`,
        v.items.map((i) => `* ${i.title}\n  ${i.body.replace(/\n/g, '\n  ')}`).join('\n\n'),
        ...(v.total > v.items.length ? [`…and ${v.total - v.items.length} more.`] : []),
        `Read them all: ${v.inboxUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `You have ${v.total} unread notification${v.total === 1 ? '' : 's'}:`,
      )}${entries(
        v.items.map((i) => ({
          title: i.title,
          body: i.body,
          meta: i.createdAt.slice(0, 16).replace('T', ' ') + ' UTC',
        })),
      )}${v.total > v.items.length ? paragraph(`…and ${v.total - v.items.length} more.`) : ''}${button(
        'Open your notifications',
        v.inboxUrl,
      )}`,
  },
);
