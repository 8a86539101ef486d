import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { fundWallet, paidCourse, payByCard, testCard, verifiedStudent } from '../factories/commerce.ts';
import { createUserWithRole } from '../factories/users.ts';

const run = promisify(execFile);
type User = { userId: number; token: string; email: string };

/** PDF receipts: download (GET /api/orders/{id}/receipt) and the payment email that carries them. */
describe('receipts: GET /api/orders/{id}/receipt and the payment email that carries them', () => {
  let t: TestApp;
  let admin: User;
  let scratch: string;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', RATE_LIMIT_MAX: '10000' });
    admin = await createUserWithRole(t, 'admin');
    scratch = mkdtempSync(path.join(tmpdir(), 'lectern-receipts-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** The raw answer: the PDF is bytes, so it is not decoded as text. */
  const download = (user: User | undefined, orderId: number | string) =>
    t.app.inject({
      method: 'GET',
      url: `/api/orders/${orderId}/receipt`,
      headers: user ? { authorization: `Bearer ${user.token}` } : {},
    });
  /** The text of a PDF as poppler's pdftotext reads it (layout kept, so label and value share a line). */
  async function pdfText(pdf: Buffer): Promise<string> {
    const file = path.join(scratch, `${randomBytes(6).toString('hex')}.pdf`);
    writeFileSync(file, pdf);
    const { stdout } = await run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-']);
    return stdout;
  }
  async function buy(
    student: User,
    courseId: number,
    extra: Record<string, unknown> = { method: 'card', cardDetails: testCard() },
    amount = 5000,
  ) {
    const res = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: student.token,
      payload: { userId: student.userId, courseId, amount, ...extra },
    });
    expect(res.status).toBe(201);
    return res.body.data as { orderId: number; transactionId: string; paymentId: number };
  }
  const mailTo = async (email: string) =>
    (await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` })).body.data
      .items as Array<{
      subject: string;
      text: string;
      html: string;
      attachments: Array<{ filename: string; contentType: string; size: number; sha256: string }>;
    }>;

  it('a card order’s receipt is a PDF naming the course, prices, buyer, card and transaction', async () => {
    const student = await verifiedStudent(t, { name: 'Zoë Ångström' });
    const course = await paidCourse(t, { title: 'Café Français (Niveau 1) — “Grammar” & more' });
    const paid = await buy(student, course.id);

    const res = await download(student, paid.orderId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe(
      `inline; filename="lectern-receipt-order-${paid.orderId}.pdf"`,
    );
    expect(res.headers['cache-control']).toBe('private, no-store');
    const pdf = res.rawPayload;
    expect(pdf.subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
    expect(pdf.subarray(-6).toString('latin1')).toBe('%%EOF\n');

    const text = await pdfText(pdf);
    expect(text).toContain('Café Français (Niveau 1) — “Grammar” & more');
    expect(text).toMatch(/Total\s+NGN 5,000\.00/);
    expect(text).toContain(paid.transactionId);
    expect(text).toMatch(new RegExp(`Order number\\s+${paid.orderId}\\b`));
    expect(text).toMatch(/Billed to\s+Zoë Ångström/);
    expect(text).toContain(student.email);
    expect(text).toContain('Card: Visa ending in 4242');
    expect(text).toContain('Currency: NGN');
    expect(text).not.toContain('REFUNDED');
    expect(text).not.toContain('Discount');

    // An admin gets the same document.
    const byAdmin = await download(admin, paid.orderId);
    expect(byAdmin.statusCode).toBe(200);
    expect(await pdfText(byAdmin.rawPayload)).toContain(paid.transactionId);
  });

  it('attaches the same PDF to the one payment email, once', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t, { title: 'Emailed Receipts 101' });
    const paid = await buy(student, course.id);
    const subject = 'Payment received: NGN 5,000.00 for Emailed Receipts 101';
    const mail = await waitFor(async () => (await mailTo(student.email)).find((m) => m.subject === subject));
    expect(mail.text).toContain('Your receipt is attached as a PDF');
    expect(mail.text).toContain(paid.transactionId);
    expect(mail.text).toContain('NGN 5,000.00');
    const pdf = (await download(student, paid.orderId)).rawPayload;
    expect(mail.attachments).toEqual([
      {
        filename: `lectern-receipt-order-${paid.orderId}.pdf`,
        contentType: 'application/pdf',
        size: pdf.length,
        sha256: createHash('sha256').update(pdf).digest('hex'),
      },
    ]);
    // One email per purchase (besides the enrollment confirmation), however the events were delivered.
    await new Promise((r) => setTimeout(r, 1500));
    const purchaseMails = (await mailTo(student.email))
      .map((m) => m.subject)
      .filter((m) => m.includes('Emailed Receipts 101'));
    expect(purchaseMails.sort()).toEqual([subject, 'You are enrolled in Emailed Receipts 101']);
  });

  it('shows the coupon discount, and the wallet as the method', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const coupon = await t.request({
      method: 'POST',
      url: '/api/coupons',
      token: admin.token,
      payload: {
        code: `RCPT${randomBytes(3).toString('hex')}`,
        kind: 'percent',
        percentOff: 20,
        courseId: course.id,
      },
    });
    expect(coupon.status).toBe(201);
    await fundWallet(t, student.userId, 400000);
    const paid = await buy(student, course.id, { method: 'wallet', couponCode: coupon.body.data.code }, 4000);
    const text = await pdfText((await download(student, paid.orderId)).rawPayload);
    expect(text).toMatch(/NGN 5,000\.00/);
    expect(text).toMatch(new RegExp(`Discount \\(coupon ${coupon.body.data.code}\\)\\s+-NGN 1,000\\.00`));
    expect(text).toMatch(/Total\s+NGN 4,000\.00/);
    expect(text).toContain('Payment method                     Lectern wallet');
  });

  it('a refunded order’s receipt is marked REFUNDED', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const paid = await buy(student, course.id);
    const refund = await t.request({
      method: 'POST',
      url: `/api/orders/${paid.orderId}/refund`,
      token: student.token,
      payload: { reason: 'Receipt test' },
    });
    expect(refund.status).toBe(200);
    const res = await download(student, paid.orderId);
    expect(res.statusCode).toBe(200);
    const text = await pdfText(res.rawPayload);
    expect(text).toContain('REFUNDED');
    expect(text).toMatch(/NGN 5,000\.00 refunded on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(text).toContain(paid.transactionId);
  });

  it('404 for unpaid orders and other users’ orders, 401 without a token, 400 for a bad id', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const declined = await payByCard(t, student, course.id, '4000000000000002');
    expect(declined.status).toBe(402);
    const orders = await t.request({ method: 'GET', url: '/api/orders', token: student.token });
    const failedId = orders.body.data.items[0].orderId as number;
    const unpaid = await download(student, failedId);
    expect(unpaid.statusCode).toBe(404);
    expect(unpaid.json()).toMatchObject({
      status: 'error',
      data: null,
      error: { errorCode: 404, message: 'This order has no receipt: it has not been paid' },
    });

    const paid = await buy(student, (await paidCourse(t)).id);
    const other = await verifiedStudent(t);
    const hidden = await download(other, paid.orderId);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json().error.message).toBe('Order not found');
    expect((await download(student, 999999)).statusCode).toBe(404);
    expect((await download(undefined, paid.orderId)).statusCode).toBe(401);
    for (const id of ['abc', '0', '-4', '2.5', '99999999999']) {
      const res = await download(student, id);
      expect(res.statusCode, id).toBe(400);
      expect(res.json().error.details[0].field).toBe('params.id');
    }
  });
});
