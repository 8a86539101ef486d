import type { MailMessage } from '../../platform/mail.ts';

// Plain builders until the notifications module brings templates: subject, text and a minimal HTML part.

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function message(to: string, subject: string, paragraphs: string[], link?: { href: string; label: string }) {
  const text = [...paragraphs, ...(link ? [`${link.label}: ${link.href}`] : [])].join('\n\n');
  const html = [
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(link ? [`<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`] : []),
  ].join('\n');
  return { to, subject, text: `${text}\n`, html } satisfies MailMessage;
}

/** "Confirm your email address" with a single-use link valid for 24 hours. */
export function verificationEmail(to: string, name: string, link: string): MailMessage {
  return message(
    to,
    'Confirm your email address',
    [
      `Hello ${name},`,
      'Please confirm that this is your email address. The link works once and expires in 24 hours.',
      'If you did not create a Lectern account, you can ignore this message.',
    ],
    { href: link, label: 'Confirm my email address' },
  );
}

/** The 6-digit sign-in code, valid for 10 minutes. */
export function loginCodeEmail(to: string, name: string, code: string): MailMessage {
  return message(to, `Your sign-in code: ${code}`, [
    `Hello ${name},`,
    `Your sign-in code is ${code}. It expires in 10 minutes and works once.`,
    'If you did not try to sign in, you can ignore this message; nobody can sign in without the code. Never share it.',
  ]);
}

/** A password-reset link valid for 30 minutes. */
export function passwordResetEmail(to: string, name: string, link: string): MailMessage {
  return message(
    to,
    'Reset your password',
    [
      `Hello ${name},`,
      'Someone asked to reset the password of your Lectern account. The link works once and expires in 30 minutes.',
      'If it was not you, ignore this message: your password stays as it is.',
    ],
    { href: link, label: 'Choose a new password' },
  );
}

/** The notice sent after every password change or reset, so an account takeover does not go unnoticed. */
export function passwordChangedEmail(
  to: string,
  name: string,
  how: 'reset' | 'change',
  forgotLink: string,
): MailMessage {
  return message(
    to,
    'Your password was changed',
    [
      `Hello ${name},`,
      how === 'reset'
        ? 'The password of your Lectern account was just reset with a link sent to this address, and every device was signed out.'
        : 'The password of your Lectern account was just changed.',
      'If this was not you, reset your password at once and review your signed-in devices.',
    ],
    { href: forgotLink, label: 'Reset my password' },
  );
}
