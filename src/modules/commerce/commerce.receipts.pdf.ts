import { currencyExponent } from './commerce.money.ts';

/**
 * Receipts as PDF 1.4, written by hand: one A4 page of text and rules in the standard Helvetica
 * fonts (every PDF reader has them, nothing to embed), WinAnsi-encoded, with an exact xref table.
 * Text outside WinAnsi (Latin-1 plus a few typographic signs) is transliterated or shown as `?`,
 * so names in other scripts degrade legibly instead of breaking the file.
 */

/** Advance widths (1/1000 em) of WinAnsi codes 32–255, from Adobe's Helvetica AFM metrics. */
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
  556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
  500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
  556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
  278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000,
  667, 333, 1000, 0, 611, 0, 0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
  278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333,
  578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667,
  667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
  611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556,
  556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];
const HELVETICA_BOLD = [
  278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
  556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278,
  556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584,
  556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556,
  333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000,
  667, 333, 1000, 0, 611, 0, 0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
  278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333,
  611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667,
  667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
  611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611, 611, 611,
  611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/** WinAnsi's codes 128–159 that differ from Latin-1. */
const WIN_ANSI_EXTRA: Record<number, number> = {
  0x20ac: 128,
  0x201a: 130,
  0x0192: 131,
  0x201e: 132,
  0x2026: 133,
  0x2020: 134,
  0x2021: 135,
  0x02c6: 136,
  0x2030: 137,
  0x0160: 138,
  0x2039: 139,
  0x0152: 140,
  0x017d: 142,
  0x2018: 145,
  0x2019: 146,
  0x201c: 147,
  0x201d: 148,
  0x2022: 149,
  0x2013: 150,
  0x2014: 151,
  0x02dc: 152,
  0x2122: 153,
  0x0161: 154,
  0x203a: 155,
  0x0153: 156,
  0x017e: 158,
  0x0178: 159,
};

/** Letters that Unicode does not decompose into a base letter and an accent. */
const LOOK_ALIKES: Record<string, string> = {
  Ł: 'L',
  ł: 'l',
  Đ: 'D',
  đ: 'd',
  Ħ: 'H',
  ħ: 'h',
  ı: 'i',
  ŀ: 'l',
};

function winAnsiCode(char: string): number | undefined {
  const cp = char.codePointAt(0)!;
  if ((cp >= 32 && cp <= 126) || (cp >= 160 && cp <= 255)) return cp;
  return WIN_ANSI_EXTRA[cp];
}

/** The text as WinAnsi bytes: accents the encoding lacks are dropped (ő → o, ł → l), other characters become `?`. */
export function toWinAnsi(text: string): number[] {
  const out: number[] = [];
  for (const char of text.replace(/[\r\n\t]+/g, ' ')) {
    const code = winAnsiCode(char);
    if (code !== undefined) {
      out.push(code);
      continue;
    }
    // Strip accents the encoding lacks (e.g. ő → o) before giving up on a character.
    const base = LOOK_ALIKES[char] ?? char.normalize('NFKD').replace(/\p{M}/gu, '');
    const codes = [...base].map(winAnsiCode);
    if (base.length > 0 && codes.every((c) => c !== undefined)) out.push(...(codes as number[]));
    else out.push(63); // '?'
  }
  return out;
}

export type FontStyle = 'regular' | 'bold';

/** Width of a text in points at a font size. */
export function textWidth(text: string, size: number, style: FontStyle = 'regular'): number {
  const table = style === 'bold' ? HELVETICA_BOLD : HELVETICA;
  return (toWinAnsi(text).reduce((sum, code) => sum + (table[code - 32] ?? 0), 0) * size) / 1000;
}

/** Splits a text into lines no wider than `maxWidth` points (long words are cut). */
export function wrapText(
  text: string,
  maxWidth: number,
  size: number,
  style: FontStyle = 'regular',
): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.trim().split(/\s+/)) {
    const candidate = line ? `${line} ${word}` : word;
    if (textWidth(candidate, size, style) <= maxWidth) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = word;
    while (textWidth(line, size, style) > maxWidth && line.length > 1) {
      let cut = line.length - 1;
      while (cut > 1 && textWidth(line.slice(0, cut), size, style) > maxWidth) cut--;
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A PDF string literal: `(` `)` `\` escaped, everything beyond ASCII as octal escapes. */
function pdfString(bytes: number[]): string {
  let out = '(';
  for (const b of bytes) {
    if (b === 0x28 || b === 0x29 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 32 || b > 126) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `${out})`;
}

const num = (n: number) => (Math.round(n * 100) / 100).toString();

export interface TextOptions {
  size?: number;
  style?: FontStyle;
  align?: 'left' | 'right';
  /** RGB, each 0–1. */
  color?: [number, number, number];
}

/** One page's content stream, drawn in points from the bottom-left corner. */
export class PdfPage {
  readonly width = 595.28;
  readonly height = 841.89;
  private readonly ops: string[] = [];

  text(value: string, x: number, y: number, options: TextOptions = {}): void {
    const size = options.size ?? 10;
    const style = options.style ?? 'regular';
    const left = options.align === 'right' ? x - textWidth(value, size, style) : x;
    const [r, g, b] = options.color ?? [0, 0, 0];
    this.ops.push(
      `BT ${num(r)} ${num(g)} ${num(b)} rg /${style === 'bold' ? 'F2' : 'F1'} ${num(size)} Tf ${num(left)} ${num(y)} Td ${pdfString(toWinAnsi(value))} Tj ET`,
    );
  }

  line(x1: number, y1: number, x2: number, y2: number, width = 0.5, gray = 0.6): void {
    this.ops.push(`${num(gray)} G ${num(width)} w ${num(x1)} ${num(y1)} m ${num(x2)} ${num(y2)} l S`);
  }

  /** A filled rectangle (x, y is its bottom-left corner). */
  box(x: number, y: number, w: number, h: number, gray: number): void {
    this.ops.push(`${num(gray)} g ${num(x)} ${num(y)} ${num(w)} ${num(h)} re f`);
  }

  content(): Buffer {
    return Buffer.from(this.ops.join('\n'), 'latin1');
  }
}

/** `D:YYYYMMDDHHmmSSZ`, the PDF date format. */
const pdfDate = (d: Date) => `D:${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

/**
 * Serialises pages into a PDF 1.4 file: catalog, page tree, the two fonts, pages with their
 * content streams, document info, and a cross-reference table with each object's byte offset.
 */
export function writePdf(pages: PdfPage[], info: { title: string; createdAt: Date }): Buffer {
  const objects: Buffer[] = [];
  const add = (body: string | Buffer) => {
    objects.push(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
    return objects.length;
  };
  // Fixed numbers: 1 catalog, 2 page tree, 3 and 4 fonts; pages and contents follow.
  add('<< /Type /Catalog /Pages 2 0 R >>');
  const kids = pages.map((_, i) => `${5 + i * 2} 0 R`).join(' ');
  add(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  for (const font of ['Helvetica', 'Helvetica-Bold']) {
    add(`<< /Type /Font /Subtype /Type1 /BaseFont /${font} /Encoding /WinAnsiEncoding >>`);
  }
  for (const [i, page] of pages.entries()) {
    add(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${num(page.width)} ${num(page.height)}] ` +
        `/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents ${6 + i * 2} 0 R >>`,
    );
    const stream = page.content();
    add(
      Buffer.concat([
        Buffer.from(`<< /Length ${stream.length} >>\nstream\n`, 'latin1'),
        stream,
        Buffer.from('\nendstream', 'latin1'),
      ]),
    );
  }
  const infoId = add(
    `<< /Title ${pdfString(toWinAnsi(info.title))} /Producer (Lectern) /CreationDate (${pdfDate(info.createdAt)}) >>`,
  );

  // The binary comment tells transfer tools the file is not plain text.
  const chunks: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let offset = chunks[0]!.length;
  const offsets: number[] = [];
  for (const [i, body] of objects.entries()) {
    const chunk = Buffer.concat([
      Buffer.from(`${i + 1} 0 obj\n`, 'latin1'),
      body,
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    offsets.push(offset);
    chunks.push(chunk);
    offset += chunk.length;
  }
  // Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, space, newline.
  const xref =
    `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n` +
    offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('') +
    `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info ${infoId} 0 R >>\nstartxref\n${offset}\n%%EOF\n`;
  chunks.push(Buffer.from(xref, 'latin1'));
  return Buffer.concat(chunks);
}

/** `NGN 5,000.00` from minor units (exact: no floating point). */
export function formatMoney(minor: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${minor < 0 ? '-' : ''}${currency} ${whole}${fraction}`;
}

/** Everything a receipt shows. */
export interface ReceiptData {
  issuer: string;
  orderId: number;
  paidAt: Date;
  buyer: { name: string; email: string };
  courseTitle: string;
  currency: string;
  listPriceMinor: number;
  discountMinor: number;
  couponCode: string | null;
  amountMinor: number;
  method: 'card' | 'paystack' | 'wallet';
  card: { brand: string; last4: string } | null;
  transactionId: string;
  /** Set once the order is refunded. */
  refund: { completedAt: Date; amountMinor: number } | null;
}

const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function methodLabel(data: ReceiptData): string {
  if (data.method === 'card') {
    return data.card ? `Card: ${capitalised(data.card.brand)} ending in ${data.card.last4}` : 'Card';
  }
  return data.method === 'paystack' ? 'Paystack' : `${data.issuer} wallet`;
}

/** The receipt of a paid (or refunded) order as a one-page PDF. */
export function renderReceiptPdf(data: ReceiptData): Buffer {
  const page = new PdfPage();
  const left = 56;
  const right = page.width - 56;
  const grey: [number, number, number] = [0.35, 0.35, 0.35];
  let y = page.height - 72;

  page.text(data.issuer, left, y, { size: 22, style: 'bold' });
  page.text('RECEIPT', right, y, { size: 22, style: 'bold', align: 'right' });
  y -= 16;
  page.line(left, y, right, y, 1, 0.2);
  y -= 34;

  if (data.refund) {
    page.text('REFUNDED', left, y, { size: 26, style: 'bold', color: [0.75, 0.1, 0.1] });
    page.text(
      `${formatMoney(data.refund.amountMinor, data.currency)} refunded on ${when(data.refund.completedAt)}`,
      right,
      y + 2,
      { size: 10, color: [0.75, 0.1, 0.1], align: 'right' },
    );
    y -= 34;
  }

  const fields: Array<[string, string]> = [
    ['Order number', String(data.orderId)],
    ['Date paid', when(data.paidAt)],
    ['Transaction ID', data.transactionId],
    ['Payment method', methodLabel(data)],
    ['Billed to', data.buyer.name],
    ['Email', data.buyer.email],
  ];
  for (const [label, value] of fields) {
    page.text(label, left, y, { size: 10, color: grey });
    page.text(value, left + 120, y, { size: 10 });
    y -= 17;
  }
  y -= 18;

  // Items: one course, then discount and total; amounts right-aligned in the last column.
  const amountColumn = right - 8;
  page.box(left, y - 6, right - left, 22, 0.92);
  page.text('Description', left + 8, y, { size: 10, style: 'bold' });
  page.text('Amount', amountColumn, y, { size: 10, style: 'bold', align: 'right' });
  y -= 26;
  const titleLines = wrapText(data.courseTitle, right - left - 150, 11);
  page.text(formatMoney(data.listPriceMinor, data.currency), amountColumn, y, { size: 11, align: 'right' });
  for (const line of titleLines) {
    page.text(line, left + 8, y, { size: 11 });
    y -= 15;
  }
  page.text('Online course', left + 8, y, { size: 9, color: grey });
  y -= 22;
  if (data.discountMinor > 0) {
    const label = data.couponCode ? `Discount (coupon ${data.couponCode})` : 'Discount';
    page.text(label, left + 8, y, { size: 11 });
    page.text(formatMoney(-data.discountMinor, data.currency), amountColumn, y, { size: 11, align: 'right' });
    y -= 22;
  }
  page.line(left, y + 10, right, y + 10);
  y -= 8;
  page.text('Total', left + 8, y, { size: 13, style: 'bold' });
  page.text(formatMoney(data.amountMinor, data.currency), amountColumn, y, {
    size: 13,
    style: 'bold',
    align: 'right',
  });
  y -= 18;
  page.text(`Currency: ${data.currency}`, left + 8, y, { size: 9, color: grey });
  y -= 40;

  page.text(`Thank you for learning with ${data.issuer}.`, left, y, { size: 10 });
  page.text(
    'Keep this receipt for your records. It was generated electronically and is valid without a signature.',
    left,
    y - 15,
    {
      size: 8,
      color: grey,
    },
  );
  return writePdf([page], {
    title: `${data.issuer} receipt for order ${data.orderId}`,
    createdAt: data.paidAt,
  });
}
