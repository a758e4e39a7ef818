import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind } from '../src/index.js';
import { serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';
import { startUiServer, TOKEN } from './helpers/ui-server.js';
import type { UiServer } from './helpers/ui-server.js';

const P = '/api/v2/metrics';
const UI = `${P}/ui`;
const ASSETS = readdirSync(new URL('../src/ui/assets/', import.meta.url));
/** Every file the app page loads; only style.css and login.js may be served without the token. */
const ALL_ASSETS = [...ASSETS, 'uplot.js', 'uplot.css'];

async function fetchText(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function login(base: string, token: string, headers: Record<string, string> = {}) {
  return fetchText(`${base}${UI}/login`, {
    method: 'POST',
    headers: {
      origin: base,
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body: '{}',
  });
}

/** The cookie pair (`name=value`) of a Set-Cookie header. */
const pair = (setCookie: string | null) => (setCookie ?? '').split(';')[0];

function meterWithTraffic() {
  const meter = createMeter({ iniPath: false, env: {} });
  const ep = meter.endpoint('GET', '/a')!;
  for (let i = 0; i < 7; i++) meter.record(ep, 200, 5 + i, -1, -1, ErrorKind.None);
  return meter;
}

describe('web page: access (Fastify, real loopback server)', () => {
  let s: UiServer;
  before(async () => {
    s = await startUiServer();
  });
  after(async () => {
    await s.close();
  });

  test('without the token only the login page and its two assets are served', async () => {
    for (const path of [UI, `${UI}/`]) {
      const page = await fetchText(s.base + path);
      assert.equal(page.status, 200, path);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.text, /assets\/login\.js/);
      assert.doesNotMatch(page.text, /app\.js|uplot/);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    }
    for (const name of ALL_ASSETS) {
      const res = await fetchText(`${s.base}${UI}/assets/${name}`);
      if (name === 'style.css' || name === 'login.js') assert.equal(res.status, 200, name);
      else assert.equal(res.status, 401, name);
    }
    for (const path of [
      `${UI}/assets/nope.js`,
      `${UI}/anything`,
      `${UI}/assets/../../summary`,
      `${P}/summary`,
      `${P}/endpoints`,
      `${P}/endpoints?format=csv`,
      `${P}/endpoints/%2Fitems%2F%7Bid%7D`,
      `${P}/health`,
      `${P}/openapi.json`,
      '/metrics',
    ]) {
      assert.equal((await fetchText(s.base + path)).status, 401, path);
    }
    // A cookie with a wrong token opens nothing either.
    const cookie = 'apimeter_token=wrong-token';
    assert.match((await fetchText(s.base + UI, { headers: { cookie } })).text, /login\.js/);
    assert.equal((await fetchText(`${s.base}${UI}/assets/app.js`, { headers: { cookie } })).status, 403);
    assert.equal((await fetchText(`${s.base}${P}/summary`, { headers: { cookie } })).status, 403);
  });

  test('login sets an HttpOnly SameSite=Strict cookie the API accepts; logout clears it', async () => {
    const res = await login(s.base, TOKEN);
    assert.equal(res.status, 204);
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^apimeter_token=/);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\/api\/v2\/metrics;/);
    assert.doesNotMatch(setCookie, /Secure/);
    const cookie = pair(setCookie);

    const page = await fetchText(s.base + UI, { headers: { cookie } });
    assert.match(page.text, /assets\/app\.js/);
    assert.match(page.text, /content="https:\/\/traces\.example\/trace\/\{trace_id\}\?span=\{span_id\}"/);
    for (const name of ALL_ASSETS)
      assert.equal((await fetchText(`${s.base}${UI}/assets/${name}`, { headers: { cookie } })).status, 200, name);
    const list = await fetch(`${s.base}${P}/endpoints?window=5m`, { headers: { cookie } });
    assert.equal(list.status, 200);
    const body = (await list.json()) as { endpoints: { method: string; route: string; count: number }[] };
    assert.equal(body.endpoints.find((e) => e.route === '/items/{id}')?.count, s.sent.get('GET /items/:id'));
    // The bearer path is unchanged, and a wrong bearer is not rescued by a right cookie.
    assert.equal((await fetch(`${s.base}${P}/summary`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.equal(
      (await fetch(`${s.base}${P}/summary`, { headers: { authorization: 'Bearer nope', cookie } })).status,
      403,
    );

    const out = await fetchText(`${s.base}${UI}/logout`, {
      method: 'POST',
      headers: { origin: s.base, 'content-type': 'application/json', cookie },
      body: '{}',
    });
    assert.equal(out.status, 204);
    assert.match(
      out.headers.get('set-cookie') ?? '',
      /^apimeter_token=; Path=\/api\/v2\/metrics; Max-Age=0; HttpOnly; SameSite=Strict/,
    );
  });

  test('login refuses a wrong token, another origin, a form content type, and GET', async () => {
    assert.equal((await login(s.base, 'not-the-token')).status, 403);
    assert.equal((await login(s.base, TOKEN, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await login(s.base, TOKEN, { 'sec-fetch-site': 'cross-site' })).status, 403);
    const noOrigin = await fetchText(`${s.base}${UI}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{}',
    });
    assert.equal(noOrigin.status, 403);
    assert.equal(noOrigin.headers.get('set-cookie'), null);
    const form = await login(s.base, TOKEN, { 'content-type': 'text/plain' });
    assert.notEqual(form.status, 204);
    assert.equal(form.headers.get('set-cookie'), null);
    const get = await fetchText(`${s.base}${UI}/login`);
    assert.equal(get.status, 405);
    assert.equal((await login(s.base, '')).headers.get('set-cookie'), null);
  });

  test('assets are served gzip-compressed with an ETag, and revalidate with 304', async () => {
    const cookie = pair((await login(s.base, TOKEN)).headers.get('set-cookie'));
    const first = await fetch(`${s.base}${UI}/assets/app.js`, { headers: { cookie, 'accept-encoding': 'gzip' } });
    assert.equal(first.headers.get('content-encoding'), 'gzip');
    assert.match(first.headers.get('content-type') ?? '', /^text\/javascript/);
    const etag = first.headers.get('etag') ?? '';
    assert.match(await first.text(), /hashchange/);
    const again = await fetch(`${s.base}${UI}/assets/app.js`, { headers: { cookie, 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });
});

describe('web page: node:http handler', () => {
  let served: Served;
  before(async () => {
    served = await serveApi({ meter: meterWithTraffic(), token: 'node-token' });
  });
  after(async () => {
    await served.close();
  });

  test('login over createNodeHandler; Secure when the page was loaded over https', async () => {
    const res = await login(served.base, 'node-token');
    assert.equal(res.status, 204);
    const cookie = pair(res.headers.get('set-cookie'));
    assert.equal((await fetchText(`${served.base}${P}/endpoints`, { headers: { cookie } })).status, 200);
    const host = new URL(served.base).host;
    const https = await login(served.base, 'node-token', { origin: `https://${host}`, 'x-forwarded-host': host });
    assert.match(https.headers.get('set-cookie') ?? '', /; Secure/);
  });
});

test('authorize(): the cookie is handed to it as a bearer token', async () => {
  const seen: (string | undefined)[] = [];
  const served = await serveApi({
    meter: meterWithTraffic(),
    authorize: (r) => {
      const h = r.headers.authorization;
      seen.push(Array.isArray(h) ? h[0] : h);
      return h === 'Bearer let-me-in';
    },
  });
  try {
    const res = await login(served.base, 'let-me-in');
    assert.equal(res.status, 204);
    const cookie = pair(res.headers.get('set-cookie'));
    assert.equal((await fetchText(`${served.base}${P}/summary`, { headers: { cookie } })).status, 200);
    assert.equal(
      (await fetchText(`${served.base}${P}/summary`, { headers: { cookie: 'apimeter_token=nope' } })).status,
      403,
    );
    assert.equal((await fetchText(`${served.base}${P}/summary`)).status, 401);
    assert.deepEqual(seen, ['Bearer let-me-in', 'Bearer let-me-in', 'Bearer nope', undefined]);
  } finally {
    await served.close();
  }
});

test('page weight: every asset, gzip-compressed, under 150 kB', async () => {
  const s = await startUiServer();
  try {
    const cookie = pair((await login(s.base, TOKEN)).headers.get('set-cookie'));
    let raw = 0;
    let compressed = 0;
    const page = await fetchText(s.base + UI, { headers: { cookie } });
    raw += Buffer.byteLength(page.text);
    compressed += gzipSync(page.text).length;
    for (const name of ALL_ASSETS) {
      const res = await fetch(`${s.base}${UI}/assets/${name}`, { headers: { cookie, 'accept-encoding': 'identity' } });
      const body = Buffer.from(await res.arrayBuffer());
      raw += body.length;
      compressed += gzipSync(body, { level: 9 }).length;
    }
    console.log(
      `# web page weight: ${ALL_ASSETS.length + 1} files, ${(raw / 1000).toFixed(1)} kB, gzip ${(compressed / 1000).toFixed(1)} kB`,
    );
    assert.ok(compressed < 150_000, `${compressed} bytes gzip`);
  } finally {
    await s.close();
  }
});

test(
  'the build ships the page: dist/ui/assets holds every asset',
  { skip: existsSync(new URL('../dist/ui/assets.js', import.meta.url)) ? false : 'dist/ not built (npm run build)' },
  () => {
    const built = readdirSync(new URL('../dist/ui/assets/', import.meta.url));
    assert.deepEqual([...built].sort(), [...ASSETS].sort());
  },
);
