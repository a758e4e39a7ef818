import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { createMeter, ErrorKind } from '../src/index.js';
import { apimeterApi, apimeterFrameworkErrors } from '../src/adapters/fastify.js';
import { createMetricsApi, createNodeHandler } from '../src/api/index.js';
import type { EndpointDetailJson, MetricsApi } from '../src/api/index.js';

/*
 * Paths as clients really send them (raw, not normalised by a URL parser), through both ways of serving
 * the API: the node:http handler and the Fastify plugin.
 */

const P = '/api/v2/metrics';
const TOKEN = 'paths-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SENT = { get: 7, post: 3 };

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request with the path exactly as given. */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

function meterWithTraffic() {
  const meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: [P] });
  const get = meter.endpoint('GET', '/dags/{dag_id}')!;
  const post = meter.endpoint('POST', '/dags/{dag_id}')!;
  for (let i = 0; i < SENT.get; i++) meter.record(get, i % 3 === 0 ? 404 : 200, 5, -1, -1, ErrorKind.None);
  for (let i = 0; i < SENT.post; i++) meter.record(post, 201, 5, -1, -1, ErrorKind.None);
  return meter;
}

const servers: Record<string, () => Promise<{ base: string; close: () => Promise<void> }>> = {
  'node:http handler': async () => {
    const api = createMetricsApi({ meter: meterWithTraffic(), token: TOKEN, cacheSeconds: 0 });
    const server = http.createServer(createNodeHandler(api));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        api.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  },
  'Fastify plugin': async () => {
    const api: MetricsApi = createMetricsApi({ meter: meterWithTraffic(), token: TOKEN, cacheSeconds: 0 });
    const app = Fastify({ frameworkErrors: apimeterFrameworkErrors(api) });
    app.get('/app', async () => 'the app');
    await app.register(apimeterApi, { api });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      close: async () => {
        await app.close();
        api.close();
      },
    };
  },
};

/** Ways the earlier audit tried to reach the data without the token. */
const BYPASS_PATHS = [
  `${P}/summary`,
  '/API/V2/METRICS/summary',
  '/Api/v2/metrics/summary',
  `${P}/SUMMARY`,
  '/api/v2/Metrics/endpoints',
  `${P}/%73ummary`,
  '/%61pi/v2/metrics/summary',
  '/api%2Fv2%2Fmetrics%2Fsummary',
  `${P}%2Fsummary`,
  `${P}/summary%00`,
  `${P}/summary%2F`,
  `${P}/endpoints%2F%2Fdags`,
  `${P}/endpoints/%`,
  `${P}/endpoints/%zz`,
  `//api/v2/metrics/summary`,
  '/api//v2/metrics/summary',
  `${P}//summary`,
  `${P}/summary/`,
  `${P}/summary//`,
  `${P}/./summary`,
  '/api/v2/x/../metrics/summary',
  `${P}/summary;x`,
  `${P}/summary?token=${TOKEN}`,
  `${P}/summary?access_token=${TOKEN}`,
  `${P}/summary?authorization=Bearer%20${TOKEN}`,
  `${P}/endpoints?api_key=${TOKEN}`,
  `${P}/endpoints/${encodeURIComponent('GET /dags/{dag_id}')}`,
  `${P}/health`,
  `${P}/openapi.json`,
  '/metrics',
];
const NOT_A_BEARER_HEADER: Record<string, string>[] = [
  {},
  { authorization: TOKEN },
  { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` },
  { authorization: `Token ${TOKEN}` },
  { authorization: `Bearer${TOKEN}` },
  { 'x-api-key': TOKEN },
  { cookie: `token=${TOKEN}` },
];

for (const [name, start] of Object.entries(servers)) {
  describe(`paths and access (${name})`, () => {
    let base: string;
    let close: () => Promise<void>;
    before(async () => ({ base, close } = await start()));
    after(() => close?.());

    test('no credentials: 401 before any 404, even under the prefix', async () => {
      for (const path of [`${P}/nope`, `${P}/endpoints/x/y`, `${P}/`, P]) {
        const res = await raw(base, 'GET', path);
        assert.equal(res.status, 401, `${path}: ${res.text}`);
        assert.doesNotMatch(res.text, /routes:|summary|openapi/, `${path} names no route`);
        assert.equal(JSON.parse(res.text).status, 401);
      }
      const known = await raw(base, 'GET', `${P}/nope`, AUTH);
      assert.equal(known.status, 404, 'with credentials: the 404, with the routes');
      assert.match(JSON.parse(known.text).detail, /routes: .*\/summary/);
    });

    test('a malformed percent-encoding: the API’s own 400, after the access check', async () => {
      for (const path of [`${P}/endpoints/%`, `${P}/endpoints/%zz`, `${P}/endpoints/%C0`]) {
        const anonymous = await raw(base, 'GET', path);
        assert.equal(anonymous.status, 401, `${path} anonymous: ${anonymous.text}`);
        const res = await raw(base, 'GET', path, AUTH);
        assert.equal(res.status, 400, `${path}: ${res.text}`);
        assert.match(res.headers['content-type'] ?? '', /^application\/json/);
        const body = JSON.parse(res.text) as Record<string, unknown>;
        assert.equal(body.title, 'Bad Request');
        assert.equal(body.parameter, 'endpoint');
        assert.match(String(body.detail), /not valid URL encoding/);
        assert.equal(body.code, undefined, 'not Fastify’s FST_ERR_BAD_URL');
      }
    });

    test('the detail route takes an endpoint as listed: "GET /dags/{dag_id}"', async () => {
      const listed = encodeURIComponent('GET /dags/{dag_id}');
      const res = await raw(base, 'GET', `${P}/endpoints/${listed}?window=all`, AUTH);
      assert.equal(res.status, 200, res.text);
      const json = JSON.parse(res.text) as EndpointDetailJson;
      assert.equal(json.route, '/dags/{dag_id}');
      assert.equal(json.method, 'GET');
      assert.equal(json.count, SENT.get);
      assert.deepEqual(json.methods, ['GET', 'POST']);
      const post = JSON.parse((await raw(base, 'GET', `${P}/endpoints/POST%20%2Fdags%2F%7Bdag_id%7D`, AUTH)).text);
      assert.equal(post.count, SENT.post);
      const both = await raw(base, 'GET', `${P}/endpoints/${listed}?method=GET`, AUTH);
      assert.equal(JSON.parse(both.text).count, SENT.get, 'the same method twice is fine');
      const clash = await raw(base, 'GET', `${P}/endpoints/${listed}?method=POST`, AUTH);
      assert.equal(clash.status, 400, clash.text);
      assert.equal(JSON.parse(clash.text).parameter, 'method');
      const bare = JSON.parse((await raw(base, 'GET', `${P}/endpoints/%2Fdags%2F%7Bdag_id%7D`, AUTH)).text);
      assert.equal(bare.count, SENT.get + SENT.post, 'the bare route still merges every method');
    });

    test('no bypass: prefix case, percent-encodings, doubled slashes, dot segments, query tokens, HEAD/OPTIONS, other headers', async () => {
      const ok = await raw(base, 'GET', `${P}/summary`, AUTH);
      assert.equal(ok.status, 200, 'the token itself works (so the refusals below mean something)');
      assert.equal(JSON.parse(ok.text).count, SENT.get + SENT.post);
      for (const path of BYPASS_PATHS) {
        for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST']) {
          for (const headers of NOT_A_BEARER_HEADER) {
            const res = await raw(base, method, path, headers);
            const what = `${method} ${path} ${JSON.stringify(headers)}: ${res.status} ${res.text.slice(0, 120)}`;
            assert.ok([400, 401, 404].includes(res.status), what);
            assert.doesNotMatch(res.text, /"count"|"endpoints"|"openapi"|http_server_/, what);
          }
        }
      }
    });
  });
}
