import http from 'node:http';
import https from 'node:https';
import { guardedConnection, type TargetPolicy } from './notifications.webhooks.target.ts';

export interface SendResult {
  /** null when no HTTP answer came (refused target, DNS, connection, timeout). */
  statusCode: number | null;
  ok: boolean;
  error: string | null;
  responseSnippet: string | null;
  durationMs: number;
}

const SNIPPET = 500;

/**
 * POSTs one webhook. No redirects are followed (a 3xx is a failure): a redirect could point a
 * checked public URL at an internal one. The whole exchange is bounded by `timeoutMs`, and only
 * the first 500 characters of the answer are read.
 */
export async function postWebhook(
  target: string,
  body: string,
  headers: Record<string, string>,
  options: { policy: TargetPolicy; timeoutMs: number },
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  let connection: ReturnType<typeof guardedConnection>;
  try {
    url = new URL(target);
    connection = guardedConnection(url, options.policy);
  } catch (err) {
    const error = `Refused: ${(err as Error).message}`.slice(0, 500);
    return { statusCode: null, ok: false, error, responseSnippet: null, durationMs: elapsed() };
  }

  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : http;
    const payload = Buffer.from(body, 'utf8');
    const request = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) },
      agent: false,
      ...connection,
    });
    const timer = setTimeout(() => {
      request.destroy(new Error(`Timed out after ${options.timeoutMs / 1000} s`));
    }, options.timeoutMs);
    let settled = false;
    const finish = (result: Omit<SendResult, 'durationMs' | 'ok'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
      // The log keeps 500 characters (a redirect's Location can be longer).
      resolve({ ...result, error: result.error?.slice(0, 500) ?? null, ok, durationMs: elapsed() });
    };

    request.on('error', (err: NodeJS.ErrnoException) =>
      finish({
        statusCode: null,
        error: err.code === 'ETARGETREFUSED' ? `Refused: ${err.message}` : err.message || String(err.code),
        responseSnippet: null,
      }),
    );
    request.on('response', (response) => {
      const statusCode = response.statusCode ?? 0;
      let text = '';
      response.setEncoding('utf8');
      const done = () =>
        finish({
          statusCode,
          error:
            statusCode >= 300 && statusCode < 400
              ? `Redirect to ${response.headers.location ?? '(no location)'} not followed`
              : statusCode >= 200 && statusCode < 300
                ? null
                : `HTTP ${statusCode}`,
          responseSnippet: text ? text.slice(0, SNIPPET) : null,
        });
      response.on('data', (chunk: string) => {
        text += chunk;
        if (text.length >= SNIPPET) {
          done();
          response.destroy();
        }
      });
      response.on('end', done);
      response.on('error', done);
      response.on('close', done);
    });
    request.end(payload);
  });
}
