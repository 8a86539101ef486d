import type { SafeHtml } from './html.ts';
import { html, multiline, safeUrl } from './html.ts';

/**
 * The frame every notification email shares. Mail clients (Outlook above all) ignore <style>
 * blocks and modern CSS, so the layout is nested tables with inline styles and `bgcolor`
 * attributes, 600 px wide at most, system fonts, and a hidden preheader that inboxes show as the
 * preview line. The plain-text part carries the same content and links.
 */

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const TEXT = '#1f2933';
const MUTED = '#616e7c';
const ACCENT = '#2457c5';

export interface EmailFrame {
  /** The preview line inboxes show next to the subject. */
  preheader: string;
  heading: string;
  /** Why the recipient gets this email (footer), e.g. "You enrolled in Python 101". */
  reason: string;
  /** Present on non-essential emails: one click turns this kind of email off. */
  unsubscribeUrl?: string;
  preferencesUrl: string;
  appUrl: string;
}

/** A paragraph of plain text (escaped, line breaks kept). */
export function paragraph(text: string): SafeHtml {
  return html`<p style="margin:0 0 16px 0;font-family:${FONT};font-size:16px;line-height:24px;color:${TEXT};">
    ${multiline(text)}
  </p>`;
}

/** A call-to-action button that renders in every client (a link inside a coloured table cell). */
export function button(label: string, url: string): SafeHtml {
  const href = safeUrl(url);
  if (!href) return paragraph(label);
  return html`<table
    role="presentation"
    cellpadding="0"
    cellspacing="0"
    border="0"
    style="margin:8px 0 24px 0;"
  >
    <tr>
      <td bgcolor="${ACCENT}" style="border-radius:6px;">
        <a
          href="${href}"
          target="_blank"
          style="display:inline-block;padding:12px 24px;font-family:${FONT};font-size:16px;font-weight:600;line-height:20px;color:#ffffff;text-decoration:none;border-radius:6px;"
          >${label}</a
        >
      </td>
    </tr>
  </table>`;
}

/** Label/value rows, e.g. a payment's amount, method and reference. */
export function details(rows: Array<[label: string, value: string]>): SafeHtml {
  return html`<table
    role="presentation"
    cellpadding="0"
    cellspacing="0"
    border="0"
    width="100%"
    style="margin:0 0 24px 0;border-collapse:collapse;"
  >
    ${rows.map(
      ([label, value]) =>
        html`<tr>
          <td
            style="padding:8px 0;border-bottom:1px solid #e4e7eb;font-family:${FONT};font-size:14px;color:${MUTED};"
          >
            ${label}
          </td>
          <td
            align="right"
            style="padding:8px 0;border-bottom:1px solid #e4e7eb;font-family:${FONT};font-size:14px;font-weight:600;color:${TEXT};"
          >
            ${value}
          </td>
        </tr>`,
    )}
  </table>`;
}

/** A list of titled entries, e.g. the notifications of a digest. */
export function entries(items: Array<{ title: string; body: string; meta?: string }>): SafeHtml {
  return html`<table
    role="presentation"
    cellpadding="0"
    cellspacing="0"
    border="0"
    width="100%"
    style="margin:0 0 24px 0;border-collapse:collapse;"
  >
    ${items.map(
      (item) =>
        html`<tr>
          <td style="padding:12px 0;border-bottom:1px solid #e4e7eb;font-family:${FONT};">
            <div style="font-size:16px;font-weight:600;line-height:22px;color:${TEXT};">${item.title}</div>
            <div style="font-size:14px;line-height:20px;color:${TEXT};">${multiline(item.body)}</div>
            ${item.meta ? html`<div style="font-size:12px;line-height:18px;color:${MUTED};">${item.meta}</div>` : ''}
          </td>
        </tr>`,
    )}
  </table>`;
}

/** The complete HTML document around a template's content. */
export function htmlLayout(content: SafeHtml, frame: EmailFrame): string {
  const unsubscribe = frame.unsubscribeUrl ? safeUrl(frame.unsubscribeUrl) : null;
  const preferences = safeUrl(frame.preferencesUrl);
  const home = safeUrl(frame.appUrl);
  return html`<!DOCTYPE html>
    <html lang="en" xmlns="http://www.w3.org/1999/xhtml">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="x-apple-disable-message-reformatting" />
        <meta name="color-scheme" content="light" />
        <title>${frame.heading}</title>
      </head>
      <body style="margin:0;padding:0;background-color:#f5f7fa;">
        <div
          style="display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px;line-height:1px;color:#f5f7fa;"
        >
          ${frame.preheader}
        </div>
        <table
          role="presentation"
          width="100%"
          cellpadding="0"
          cellspacing="0"
          border="0"
          bgcolor="#f5f7fa"
          style="background-color:#f5f7fa;"
        >
          <tr>
            <td align="center" style="padding:24px 12px;">
              <table
                role="presentation"
                width="100%"
                cellpadding="0"
                cellspacing="0"
                border="0"
                style="max-width:600px;"
              >
                <tr>
                  <td
                    style="padding:0 0 16px 0;font-family:${FONT};font-size:20px;font-weight:700;color:${ACCENT};"
                  >
                    ${home ? html`<a href="${home}" style="color:${ACCENT};text-decoration:none;">Lectern</a>` : 'Lectern'}
                  </td>
                </tr>
                <tr>
                  <td
                    bgcolor="#ffffff"
                    style="background-color:#ffffff;border:1px solid #e4e7eb;border-radius:8px;padding:32px;"
                  >
                    <h1
                      style="margin:0 0 24px 0;font-family:${FONT};font-size:22px;line-height:30px;font-weight:700;color:${TEXT};"
                    >
                      ${frame.heading}
                    </h1>
                    ${content}
                  </td>
                </tr>
                <tr>
                  <td
                    style="padding:16px 8px;font-family:${FONT};font-size:12px;line-height:18px;color:${MUTED};"
                  >
                    ${frame.reason}<br />
                    ${preferences ? html`<a href="${preferences}" style="color:${MUTED};">Notification settings</a>` : ''}${unsubscribe ? html` &middot; <a href="${unsubscribe}" style="color:${MUTED};">Unsubscribe from these emails</a>` : ''}
                  </td>
                </tr>
              </table>
            </td>
          </tr>
        </table>
      </body>
    </html> `.value;
}

/** The plain-text part: the template's text, then the same footer as the HTML part. */
export function textLayout(content: string, frame: EmailFrame): string {
  const footer = [
    '--',
    frame.reason,
    `Notification settings: ${frame.preferencesUrl}`,
    ...(frame.unsubscribeUrl ? [`Unsubscribe from these emails: ${frame.unsubscribeUrl}`] : []),
  ];
  return `${content.trimEnd()}\n\n${footer.join('\n')}\n`;
}
