import { z } from 'zod';
import { defineTemplate } from './define.ts';
import { html } from './html.ts';
import { button, paragraph } from './layout.ts';

const url = z.string().url();

/** Sent once per new account. Identity sends the address-verification email itself; this one only welcomes. */
export const welcome = defineTemplate(
  z.object({ role: z.enum(['student', 'instructor', 'admin']), startUrl: url }),
  {
    name: 'welcome',
    category: 'account',
    inApp: (v) => ({
      title: 'Welcome to Lectern',
      body:
        v.role === 'instructor'
          ? 'Your instructor account is ready: create your first course whenever you like.'
          : v.role === 'admin'
            ? 'Your administrator account is ready.'
            : 'Your account is ready: browse the catalog and start learning.',
    }),
    subject: () => 'Welcome to Lectern',
    reason: () => 'You receive this email because a Lectern account was created with this address.',
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        'Welcome to Lectern! Your account is ready.',
        v.role === 'instructor'
          ? `Create your first course: ${v.startUrl}`
          : v.role === 'admin'
            ? `Open the dashboard: ${v.startUrl}`
            : `Browse the catalog and start learning: ${v.startUrl}`,
        'If you have not confirmed your email address yet, look for our separate confirmation email.',
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph('Welcome to Lectern! Your account is ready.')}${button(
        v.role === 'instructor'
          ? 'Create your first course'
          : v.role === 'admin'
            ? 'Open the dashboard'
            : 'Browse courses',
        v.startUrl,
      )}${paragraph('If you have not confirmed your email address yet, look for our separate confirmation email.')}`,
  },
);

/** A message an admin or an instructor sent through `POST /api/notifications/send`. */
export const custom = defineTemplate(
  z.object({
    title: z.string(),
    message: z.string(),
    senderName: z.string(),
    senderRole: z.enum(['admin', 'instructor']),
  }),
  {
    name: 'custom',
    category: 'account',
    inApp: (v) => ({ title: v.title, body: v.message }),
    subject: (v) => v.title,
    reason: (v) =>
      v.senderRole === 'admin'
        ? 'You receive this email because a Lectern administrator sent you a message.'
        : `You receive this email because ${v.senderName}, an instructor of one of your courses, sent you a message.`,
    text: (v, ctx) => [`Hello ${ctx.recipientName},`, v.message, `— ${v.senderName}`].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(v.message)}${paragraph(`— ${v.senderName}`)}`,
  },
);
