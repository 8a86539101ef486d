import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request an HTTP receiver got. */
export interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** `Date.now()` when the body had arrived. */
  at: number;
}

/** What the receiver answers; the body defaults to `ok`. */
export type Answer = { status: number; body?: string; headers?: Record<string, string> };

/**
 * A plain HTTP server on loopback standing in for someone else's system (a webhook receiver): it
 * records every request and answers with `respond`, which a test may replace at any time.
 */
export async function startReceiver(
  respond: (r: Received) => Answer | Promise<Answer> = () => ({ status: 200 }),
) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r = {
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(r);
      const answer = await receiver.respond(r);
      res.writeHead(answer.status, answer.headers ?? { 'content-type': 'text/plain' });
      res.end(answer.body ?? 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    respond,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
