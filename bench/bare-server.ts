/**
 * The baseline for bench/run.ts: a bare Fastify 5 server with one JSON route and nothing else
 * (no logger, plugins or hooks). Every Lectern figure is quoted as a ratio against this route,
 * measured in the same run on the same machine.
 *
 * A second route, `GET /bare-page`, answers with a body run.ts stores first (`PUT /bare-page`): the
 * catalog page Lectern served, so the run also shows what sending a body of that size costs a bare
 * server (a reference for reading the catalog figure, not a target).
 *
 *   node --import tsx bench/bare-server.ts --port 4000
 */
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

const app = Fastify({ logger: false });
app.get('/bare', async () => ({ status: 'success', data: { hello: 'world' } }));

let page = '{}';
app.put('/bare-page', { bodyLimit: 10 * 1024 * 1024 }, async (request) => {
  page = JSON.stringify(request.body);
  return { bytes: Buffer.byteLength(page) };
});
// Already JSON text: sent as it is, like Lectern's cached catalog pages.
app.get('/bare-page', async (_request, reply) => reply.type('application/json; charset=utf-8').send(page));

const shutdown = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await app.listen({ host: values.host, port: Number(values.port) });
const address = app.server.address();
console.log(`bare server listening on ${typeof address === 'object' && address ? address.port : address}`);
