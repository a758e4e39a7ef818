/**
 * `apimeter proxy` as a user runs it: what it prints (no secrets; a curl line that works as pasted),
 * its per-command help, and `--openapi` with a URL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redactUrl } from '../src/core/redact.js';

const root = new URL('..', import.meta.url).pathname;
const main = path.join(root, 'src/cli/main.ts');
const tsx = import.meta.resolve('tsx');
const airflow = path.join(root, 'test/fixtures/airflow-v2-openapi.yaml');

/** The shape FastAPI serves at /openapi.json (OpenAPI 3.1, no servers). */
const FASTAPI_DOC = {
  openapi: '3.1.0',
  info: { title: 'FastAPI', version: '0.1.0' },
  paths: {
    '/': { get: { operationId: 'read_root__get', responses: { '200': { description: 'Successful Response' } } } },
    '/items/{item_id}': {
      get: {
        operationId: 'read_item_items__item_id__get',
        parameters: [{ name: 'item_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'Successful Response' } },
      },
      put: { operationId: 'update_item_items__item_id__put', responses: { '200': { description: 'OK' } } },
    },
    '/files/{file_path}': { get: { operationId: 'read_file_files__file_path__get', responses: {} } },
  },
};

function cli(args: string[], env: Record<string, string> = {}, cwd = root) {
  return spawn(process.execPath, ['--import', tsx, main, ...args], {
    cwd,
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function finished(child: ReturnType<typeof cli>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves with stdout once `re` matches it (the proxy is up), or rejects when the process exits. */
function banner(child: ReturnType<typeof cli>, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (re.test(out)) resolve(out);
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', () => reject(new Error(`exited early: ${out}${err}`)));
  });
}

/** Runs shell lines with bash, `apimeter` on PATH being this checkout's CLI. */
function sh(lines: string, cwd: string, bin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', lines], { cwd, env: { PATH: `${bin}:${process.env.PATH}` } }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr }),
    );
  });
}

describe('apimeter proxy: what it prints', () => {
  const upstream = http.createServer((_req, res) => {
    res.end('{}');
  });
  let work: string;
  let bin: string;
  let port: number;
  before(async () => {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
    work = mkdtempSync(path.join(tmpdir(), 'apimeter-cli-'));
    bin = path.join(work, 'bin');
    mkdirSync(bin);
    writeFileSync(
      path.join(bin, 'apimeter'),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsx)} ${JSON.stringify(main)} "$@"\n`,
    );
    chmodSync(path.join(bin, 'apimeter'), 0o755);
  });
  after(async () => {
    rmSync(work, { recursive: true, force: true });
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  test('the target password never appears; the printed lines query the API as pasted (generated token)', async () => {
    const child = cli(['proxy', '--target', `http://admin:S3cretPW@127.0.0.1:${port}/?api_key=K3Y`, '--port', '0']);
    const done = finished(child);
    try {
      const out = await banner(child, /curl[^\n]*\n/);
      assert.doesNotMatch(out, /S3cretPW|K3Y/);
      assert.match(out, /→ http:\/\/\*\*\*@127\.0\.0\.1:\d+\/\?api_key=\*\*\*/);
      const lines = out
        .split('\n')
        .filter((l) => /^\s+(export|printf)/.test(l))
        .join('\n');
      assert.equal(lines.split('\n').length, 2, out);
      const pasted = await sh(lines, work, bin);
      assert.equal(pasted.code, 0, pasted.stderr);
      assert.ok(Array.isArray(JSON.parse(pasted.stdout).endpoints), pasted.stdout);
    } finally {
      child.kill('SIGTERM');
      await done;
    }
  });

  test('a configured token is never printed, and the printed lines still work as pasted', async () => {
    const token = 'configured-Tok3n-value';
    const ini = path.join(work, 'apimeter.ini');
    writeFileSync(ini, `[api]\nmetrics_api_token = ${token}\n`);
    const child = cli(['proxy', '--target', `http://127.0.0.1:${port}`, '--port', '0', '--ini', ini]);
    const done = finished(child);
    try {
      const out = await banner(child, /curl[^\n]*\n/);
      assert.ok(!out.includes(token), out);
      const lines = out
        .split('\n')
        .filter((l) => /^\s+(export|printf)/.test(l))
        .join('\n');
      // From another directory: the line names the file it read.
      const pasted = await sh(lines, tmpdir(), bin);
      assert.equal(pasted.code, 0, pasted.stderr);
      assert.ok(Array.isArray(JSON.parse(pasted.stdout).endpoints), pasted.stdout);
    } finally {
      child.kill('SIGTERM');
      await done;
    }
  });

  test('an unparsable target with credentials is refused without echoing them', async () => {
    const bad = await finished(cli(['proxy', '--target', 'http://admin:S3cretPW@[::1']));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /is not a URL/);
    assert.doesNotMatch(bad.stderr + bad.stdout, /S3cretPW/);
  });
});

describe('apimeter proxy --openapi URL', () => {
  const upstream = http.createServer((req, res) => {
    if (req.url === '/private/openapi.json') {
      const ok = req.headers.authorization === `Basic ${Buffer.from('docs:P4ss').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? JSON.stringify(FASTAPI_DOC) : '{}');
      return;
    }
    if (req.url === '/openapi.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(FASTAPI_DOC));
      return;
    }
    if (req.url === '/silent.json') return; // never answers
    if (req.url === '/missing.json') {
      res.writeHead(404).end('{"detail":"Not Found"}');
      return;
    }
    res.end('{}');
  });
  let port: number;
  before(async () => {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
  });
  after(async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  test('fetches the document the upstream serves and records under its templates', async () => {
    const target = `http://127.0.0.1:${port}`;
    const child = cli(['proxy', '--target', target, '--openapi', `${target}/openapi.json`, '--port', '0']);
    const done = finished(child);
    try {
      const out = await banner(child, /generated token (\S+)\)/);
      assert.match(out, new RegExp(`4 operations from ${target}/openapi\\.json`));
      const self = /apimeter proxy: (http:\/\/\S+) →/.exec(out)![1];
      const token = /generated token (\S+)\)/.exec(out)![1];
      for (const id of [1, 2, 3]) assert.equal((await fetch(`${self}/items/${id}`)).status, 200);
      const list = await fetch(`${self}/api/v2/metrics/endpoints`, { headers: { authorization: `Bearer ${token}` } });
      const endpoints = ((await list.json()) as { endpoints: { method: string; route: string; count: number }[] })
        .endpoints;
      const item = endpoints.find((e) => e.route === '/items/{item_id}' && e.method === 'GET');
      assert.equal(item?.count, 3);
    } finally {
      child.kill('SIGTERM');
      await done;
    }
  });

  test('credentials in the document URL are sent as HTTP Basic and never printed', async () => {
    const target = `http://127.0.0.1:${port}`;
    const child = cli([
      'proxy',
      '--target',
      target,
      '--openapi',
      `http://docs:P4ss@127.0.0.1:${port}/private/openapi.json`,
      '--port',
      '0',
    ]);
    const done = finished(child);
    try {
      const out = await banner(child, /curl[^\n]*\n/);
      assert.match(out, /4 operations from http:\/\/\*\*\*@127\.0\.0\.1:\d+\/private\/openapi\.json/);
      assert.doesNotMatch(out, /P4ss/);
    } finally {
      child.kill('SIGTERM');
      await done;
    }
  });

  test('a document that cannot be fetched exits 1 saying why; a --multi-segment name matching nothing is warned', async () => {
    const target = `http://127.0.0.1:${port}`;
    const missing = await finished(cli(['proxy', '--target', target, '--openapi', `${target}/missing.json`]));
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /APIMETER_ERR_CONFIG_FILE: cannot fetch OpenAPI document http:\/\/127\.0\.0\.1:\d+\/missing\.json: HTTP 404/,
    );
    const silent = await finished(
      cli(['proxy', '--target', target, '--openapi', `${target}/silent.json`, '--timeout-ms', '300']),
    );
    assert.equal(silent.code, 1);
    assert.match(silent.stderr, /cannot fetch OpenAPI document .*silent\.json: no answer within 300 ms/);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await finished(
      cli(['proxy', '--target', target, '--openapi', `http://127.0.0.1:${closedPort}/openapi.json`]),
    );
    assert.deepEqual([refused.code, /ECONNREFUSED/.test(refused.stderr)], [1, true]);

    const child = cli([
      'proxy',
      '--target',
      target,
      '--openapi',
      airflow,
      '--port',
      '0',
      '--multi-segment',
      'variable_kye,pool_name',
    ]);
    const done = finished(child);
    try {
      await banner(child, /curl[^\n]*\n/);
    } finally {
      child.kill('SIGTERM');
    }
    const { stderr } = await done;
    assert.match(
      stderr,
      /warning: --multi-segment variable_kye matches no parameter of the document \(did you mean variable_key\?\)/,
    );
    assert.doesNotMatch(stderr, /pool_name/);
  });
});

describe('redactUrl', () => {
  test('masks userinfo and credential-like query parameters, keeps the rest as written', () => {
    const cases: [string, string][] = [
      ['http://admin:PW@10.0.0.5:8080/api?api_key=abc&page=2', 'http://***@10.0.0.5:8080/api?api_key=***&page=2'],
      ['https://ghp_token@host/x', 'https://***@host/x'],
      [
        'http://h/?accessToken=1&keyword=2&client_secret=3&X-Amz-Signature=4#frag',
        'http://h/?accessToken=***&keyword=2&client_secret=***&X-Amz-Signature=***#frag',
      ],
      ['http://h:4318/v1/metrics', 'http://h:4318/v1/metrics'],
      ['http://h/?monkey=1&token=', 'http://h/?monkey=1&token='],
      ['target "http//u:pw@x" is bad', 'target "http//***@x" is bad'],
    ];
    for (const [input, expected] of cases) assert.equal(redactUrl(input), expected, input);
    assert.equal(redactUrl(new URL('http://a:b@h/p?sig=1')), 'http://***@h/p?sig=***');
  });
});

describe('apimeter help', () => {
  test("--help, -h and help COMMAND print that command's help for every command, exit 0", async () => {
    const marks: Record<string, RegExp> = {
      config: /^Usage: apimeter config /,
      proxy: /^Usage: apimeter proxy /,
      cleanup: /^Usage: apimeter cleanup /,
      version: /^Usage: apimeter version/,
    };
    for (const [command, mark] of Object.entries(marks)) {
      for (const args of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
        ['--help', command],
      ]) {
        const r = await finished(cli(args));
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stdout, mark, args.join(' '));
      }
    }
    const general = await finished(cli(['help']));
    assert.deepEqual([general.code, /^Usage: apimeter <command>/.test(general.stdout)], [0, true]);
    const unknown = await finished(cli(['help', 'nope']));
    assert.equal(unknown.code, 2);
    const badFlag = await finished(cli(['config', '--bogus']));
    assert.deepEqual([badFlag.code, /apimeter config --help/.test(badFlag.stderr)], [2, true]);
  });
});
