import type { z } from 'zod';
import type { SafeHtml } from './html.ts';
import type { notificationCategory } from '../notifications.tables.ts';
import { htmlLayout, textLayout, type EmailFrame } from './layout.ts';

export type NotificationCategory = (typeof notificationCategory.enumValues)[number];

/** What every template may use besides its own variables. */
export interface RenderContext {
  recipientName: string;
  appUrl: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** What a template writes; `V` is its variables (a zod object, so stored data can be re-checked). */
export interface TemplateSpec<V> {
  /** Stored in `notifications.template`; part of dedupe keys. */
  name: string;
  category: NotificationCategory;
  /** The in-app title and short plain-text body (also the email's preview line). */
  inApp(v: V): { title: string; body: string };
  subject(v: V): string;
  /** Footer line saying why this email came. */
  reason(v: V): string;
  text(v: V, ctx: RenderContext): string;
  html(v: V, ctx: RenderContext): SafeHtml;
}

export interface NotificationTemplate<V> {
  readonly name: string;
  readonly category: NotificationCategory;
  /** Checks variables at compile time and returns them as the row's `data`. */
  data(vars: V): Record<string, unknown>;
  inApp(data: unknown): { title: string; body: string };
  subject(data: unknown): string;
  /** Renders subject, plain text and HTML (every variable escaped) inside the shared layout. */
  render(
    data: unknown,
    ctx: RenderContext & Pick<EmailFrame, 'preferencesUrl' | 'unsubscribeUrl'>,
  ): RenderedEmail;
}

/** Subjects are one header line: no line breaks, and at most `max` characters. */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/[\r\n]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Declares a template. Stored `data` is parsed with `vars` again before rendering (scheduled
 * messages are rendered long after they were written), so a template never sees malformed input.
 */
export function defineTemplate<S extends z.ZodObject>(
  vars: S,
  spec: TemplateSpec<z.output<S>>,
): NotificationTemplate<z.input<S>> {
  const parse = (data: unknown) => vars.parse(data);
  return {
    name: spec.name,
    category: spec.category,
    data: (v) => ({ ...parse(v) }),
    inApp: (data) => spec.inApp(parse(data)),
    subject: (data) => oneLine(spec.subject(parse(data)), 300),
    render(data, ctx) {
      const v = parse(data);
      const summary = spec.inApp(v);
      const frame: EmailFrame = {
        preheader: summary.body,
        heading: summary.title,
        reason: spec.reason(v),
        preferencesUrl: ctx.preferencesUrl,
        appUrl: ctx.appUrl,
        ...(ctx.unsubscribeUrl ? { unsubscribeUrl: ctx.unsubscribeUrl } : {}),
      };
      return {
        subject: oneLine(spec.subject(v), 300),
        text: textLayout(spec.text(v, ctx), frame),
        html: htmlLayout(spec.html(v, ctx), frame),
      };
    },
  };
}
