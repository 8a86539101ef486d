import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as a real SMTP server on loopback received it, with its MIME parts decoded. */
export interface ReceivedMail {
  mailFrom: string;
  rcptTo: string[];
  raw: string;
  /** Header names in lower case; values unfolded and RFC 2047-decoded. */
  headers: Record<string, string>;
  messageId: string | null;
  subject: string;
  text: string | null;
  html: string | null;
}

export interface SmtpPeer {
  port: number;
  /** For `SMTP_URL`. */
  url: string;
  received: ReceivedMail[];
  /** Accepted messages to one address. */
  to(address: string): ReceivedMail[];
  /** How long the server waits before accepting each message; may be changed at any time. */
  acceptDelayMs: number;
  close(): Promise<void>;
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`); adjacent words join without the space between. */
function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, data: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : decodeQuotedPrintable(data.replace(/_/g, ' ')),
    );
}

function decodeQuotedPrintable(value: string): string {
  const bytes: number[] = [];
  const text = value.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function splitHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
  }
  return headers;
}

/** Walks a MIME entity and collects its text/plain and text/html bodies. */
function collectParts(entity: string, out: { text: string | null; html: string | null }) {
  const split = entity.search(/\r?\n\r?\n/);
  const headers = splitHeaders(split < 0 ? entity : entity.slice(0, split));
  const body = split < 0 ? '' : entity.slice(split).replace(/^\r?\n\r?\n/, '');
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary}`).slice(1);
    for (const part of parts) {
      if (part.startsWith('--')) break;
      collectParts(part.replace(/^\r?\n/, ''), out);
    }
    return;
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const decoded =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(body)
        : body;
  if (/^text\/html/i.test(type)) out.html = decoded.replace(/\r\n/g, '\n');
  else if (/^text\/plain/i.test(type)) out.text = decoded.replace(/\r\n/g, '\n');
}

/** Parses a raw RFC 5322 message (as nodemailer writes them) for assertions. */
export function parseMail(raw: string, envelope: { mailFrom: string; rcptTo: string[] }): ReceivedMail {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = splitHeaders(raw.slice(0, split));
  const parts = { text: null as string | null, html: null as string | null };
  collectParts(raw, parts);
  return {
    ...envelope,
    raw,
    headers,
    messageId: headers['message-id'] ?? null,
    subject: headers.subject ?? '',
    ...parts,
  };
}

/**
 * A real SMTP server on loopback (no TLS, no auth) that records every message it accepts. Pass
 * `port` to listen on a port chosen earlier (an "SMTP comes back" test; 0 picks a free one) and
 * `acceptDelayMs` to answer each message that much later (a slow server, so deliveries take time);
 * the peer's `acceptDelayMs` changes it later.
 */
export async function startSmtpServer(
  options: { port?: number; acceptDelayMs?: number } = {},
): Promise<SmtpPeer> {
  const { port = 0, acceptDelayMs = 0 } = options;
  const received: ReceivedMail[] = [];
  const settings = { acceptDelayMs };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail = parseMail(Buffer.concat(chunks).toString('utf8'), {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
        });
        // Recorded when accepted (the 250 answer), as a sender would count it.
        setTimeout(() => {
          received.push(mail);
          callback();
        }, settings.acceptDelayMs);
      });
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    const net = server.listen(port, '127.0.0.1', () => resolve((net.address() as AddressInfo).port));
    net.once('error', reject);
  });
  return {
    port: bound,
    url: `smtp://127.0.0.1:${bound}`,
    received,
    to: (address) => received.filter((m) => m.rcptTo.some((r) => r.toLowerCase() === address.toLowerCase())),
    get acceptDelayMs() {
      return settings.acceptDelayMs;
    },
    set acceptDelayMs(ms: number) {
      settings.acceptDelayMs = ms;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nobody listens on right now (to start an SMTP server there later). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}
