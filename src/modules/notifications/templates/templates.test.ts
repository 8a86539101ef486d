import { describe, expect, it } from 'vitest';
import { escapeHtml, html, multiline, safeUrl } from './html.ts';
import {
  coursePublished,
  custom,
  dailyDigest,
  enrollmentConfirmation,
  inactivityReminder,
  newLesson,
  paymentReceipt,
  refundNotice,
  templateNamed,
  welcome,
} from './index.ts';

const ctx = {
  recipientName: 'Ada <Admin> & Co',
  appUrl: 'https://learn.example.test',
  preferencesUrl: 'https://learn.example.test/settings/notifications',
};
const EVIL = `<img src=x onerror="alert('x')">`;

describe('html tagged template', () => {
  it('escapes every interpolated value, keeps nested safe fragments, and drops nullish ones', () => {
    const inner = html`<b>${'a&b'}</b>`;
    expect(html`<p title="${`"quoted"`}">${EVIL}${inner}${null}${undefined}${['<x>', inner]}</p>`.value).toBe(
      '<p title="&quot;quoted&quot;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;<b>a&amp;b</b>&lt;x&gt;<b>a&amp;b</b></p>',
    );
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
    expect(multiline('one <1>\ntwo').value).toBe('one &lt;1&gt;<br>two');
  });

  it('lets only http(s) URLs become links', () => {
    expect(safeUrl('https://x.test/a?b=1&c=2')).toBe('https://x.test/a?b=1&c=2');
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl('data:text/html,hi')).toBeNull();
    expect(safeUrl('not a url')).toBeNull();
  });
});

describe('templates', () => {
  const samples = [
    welcome.data({ role: 'student', startUrl: 'https://learn.example.test/courses' }),
    custom.data({ title: EVIL, message: `${EVIL}\nline two`, senderName: EVIL, senderRole: 'instructor' }),
    enrollmentConfirmation.data({
      enrollmentId: 1,
      courseId: 2,
      courseTitle: EVIL,
      courseUrl: 'https://learn.example.test/courses/c',
    }),
    newLesson.data({
      courseId: 2,
      courseTitle: EVIL,
      lessonId: 3,
      lessonTitle: EVIL,
      lessonUrl: 'https://learn.example.test/courses/c/lessons/3',
    }),
    coursePublished.data({
      courseId: 2,
      courseTitle: EVIL,
      courseUrl: 'https://learn.example.test/courses/c',
    }),
    inactivityReminder.data({
      enrollmentId: 1,
      courseId: 2,
      courseTitle: EVIL,
      courseUrl: 'https://learn.example.test/courses/c',
      inactiveDays: 9,
    }),
    paymentReceipt.data({
      orderId: 1,
      courseId: 2,
      courseTitle: EVIL,
      amount: 'NGN 5,000.00',
      transactionId: 'tx_1',
      method: 'paystack',
      orderUrl: 'https://learn.example.test/orders/1',
    }),
    refundNotice.data({
      orderId: 1,
      refundId: 1,
      courseId: 2,
      courseTitle: EVIL,
      amount: 'USD 49.99',
      method: 'card',
      orderUrl: 'https://learn.example.test/orders/1',
    }),
    dailyDigest.data({
      items: [{ notificationId: 1, title: EVIL, body: EVIL, createdAt: '2026-01-02T03:04:05.000Z' }],
      total: 4,
      inboxUrl: 'https://learn.example.test/notifications',
    }),
  ];
  const names = [
    'welcome',
    'custom',
    'enrollment_confirmation',
    'new_lesson',
    'course_published',
    'inactivity_reminder',
    'payment_receipt',
    'refund_notice',
    'daily_digest',
  ];

  it('render subject, text and an HTML document for every template, with every variable escaped', () => {
    names.forEach((name, i) => {
      const template = templateNamed(name)!;
      const email = template.render(samples[i], {
        ...ctx,
        unsubscribeUrl: 'https://api.example.test/api/notifications/unsubscribe?token=1.x.y',
      });
      expect(email.subject.length, name).toBeGreaterThan(0);
      expect(email.subject).not.toMatch(/[\r\n]/);
      expect(email.text, name).toContain('Hello Ada <Admin> & Co,');
      expect(email.text).toContain('Unsubscribe from these emails: https://api.example.test/');
      expect(email.html, name).toMatch(/^<!DOCTYPE html>/);
      expect(email.html).toContain('Ada &lt;Admin&gt; &amp; Co');
      expect(email.html).not.toContain('<img');
      expect(email.html).not.toContain('<Admin>');
      expect(email.html).toContain(
        'href="https://api.example.test/api/notifications/unsubscribe?token=1.x.y"',
      );
      expect(email.html).toContain('href="https://learn.example.test/settings/notifications"');
    });
  });

  it('leave the unsubscribe link out when none is given (essential messages)', () => {
    const email = welcome.render(samples[0], ctx);
    expect(email.text).not.toContain('Unsubscribe');
    expect(email.html).not.toContain('Unsubscribe');
  });

  it('keep subjects to one line of at most 300 characters', () => {
    const long = custom.render(
      custom.data({ title: `x\r\n${'y'.repeat(400)}`, message: 'm', senderName: 's', senderRole: 'admin' }),
      ctx,
    );
    expect(long.subject).toHaveLength(300);
    expect(long.subject).not.toMatch(/[\r\n]/);
    expect(long.subject.endsWith('…')).toBe(true);
  });

  it('refuse stored data that does not fit the template', () => {
    expect(() => welcome.render({ role: 'hacker', startUrl: 'x' }, ctx)).toThrow();
    expect(() => paymentReceipt.inApp({})).toThrow();
    expect(templateNamed('nope')).toBeUndefined();
  });
});
