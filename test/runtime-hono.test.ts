/**
 * apimeter/hono off Node: one Hono app (test/fixtures/runtimes/hono-worker.ts) bundled with esbuild and
 * served by Bun, Deno and workerd from node_modules/.bin, driven over real loopback HTTP from here.
 * Each runtime: HEAD recorded and the in-flight gauge back to 0; sized bodies still sent with
 * Content-Length (not chunked); streamed bodies counted to the byte; the meter created at module
 * scope (workerd refuses a timer there). A runtime whose binary is missing is skipped, saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-runtimes-'));
  await esbuild.build({
    entryPoints: [path.join(root, 'test/fixtures/runtimes/hono-worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    outfile: path.join(dir, 'worker.js'),
    logLevel: 'silent',
  });
  writeFileSync(
    path.join(dir, 'bun.js'),
    `import app from './worker.js';\nconst s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch });\nconsole.log('LISTENING ' + s.port);\n`,
  );
  writeFileSync(
    path.join(dir, 'deno.js'),
    `import app from './worker.js';\nDeno.serve({ port: 0, hostname: '127.0.0.1', onListen: (a) => console.log('LISTENING ' + a.port) }, app.fetch);\n`,
  );
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts a server process and resolves its port once it listens. */
async function start(
  cmd: string,
  args: string[],
  port: number | null,
): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  const child = spawn(cmd, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /LISTENING (\d+)/.exec(out);
    if (m) return { child, port: Number(m[1]), log: () => out };
    if (port !== null) {
      const ok = await fetch(`http://127.0.0.1:${port}/__meter`).then(
        () => true,
        () => false,
      );
      if (ok) return { child, port, log: () => out };
    }
    if (child.exitCode !== null) throw new Error(`${cmd} exited ${child.exitCode}:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`${cmd} did not start:\n${out}`);
}

interface Row {
  method: string;
  route: string;
  count: number;
  inflight: number;
  responseBytes: number;
}

async function checkRuntime(base: string): Promise<void> {
  const json = await fetch(`${base}/json`);
  const jsonText = await json.text();
  assert.equal(json.headers.get('content-length'), String(Buffer.byteLength(jsonText)), 'c.json() stays sized');
  assert.equal(json.headers.get('transfer-encoding'), null);
  const text = await fetch(`${base}/text`);
  assert.equal(await text.text(), 'plain text body');
  assert.equal(text.headers.get('content-length'), '15', 'c.text() stays sized');
  const sized = await fetch(`${base}/sized`);
  assert.equal(await sized.text(), '0123456789');
  assert.equal(sized.headers.get('content-length'), '10');
  for (let i = 0; i < 3; i++) {
    const head = await fetch(`${base}/json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    await head.arrayBuffer();
  }
  const streamed = await fetch(`${base}/stream`);
  const body = await streamed.text();
  assert.equal(body, 'chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;');
  let rows: Row[] = [];
  for (let i = 0; i < 50; i++) {
    rows = (await (await fetch(`${base}/__meter`)).json()) as Row[];
    if (rows.find((r) => r.route === '/stream')?.count === 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const row = (method: string, route: string) => rows.find((r) => r.method === method && r.route === route);
  assert.equal(row('HEAD', '/json')?.count, 3, 'HEAD recorded');
  assert.equal(row('HEAD', '/json')?.inflight, 0, 'HEAD leaves nothing in flight');
  assert.equal(row('GET', '/json')?.responseBytes, Buffer.byteLength(jsonText));
  assert.equal(row('GET', '/text')?.responseBytes, 15);
  assert.equal(row('GET', '/sized')?.responseBytes, 10);
  assert.equal(row('GET', '/stream')?.count, 1);
  assert.equal(row('GET', '/stream')?.responseBytes, Buffer.byteLength(body));
  for (const r of rows) assert.equal(r.inflight, 0, `${r.method} ${r.route} in flight`);
}

describe('apimeter/hono on other runtimes (real servers on loopback)', () => {
  test('Bun (Bun.serve)', { skip: existsSync(bin('bun')) ? false : 'node_modules/.bin/bun is missing' }, async () => {
    const s = await start(bin('bun'), ['bun.js'], null);
    try {
      await checkRuntime(`http://127.0.0.1:${s.port}`);
    } finally {
      s.child.kill();
    }
  });

  test(
    'Deno (Deno.serve)',
    { skip: existsSync(bin('deno')) ? false : 'node_modules/.bin/deno is missing' },
    async () => {
      const s = await start(bin('deno'), ['run', '--allow-net', '--no-prompt', 'deno.js'], null);
      try {
        await checkRuntime(`http://127.0.0.1:${s.port}`);
      } finally {
        s.child.kill();
      }
    },
  );

  test(
    'workerd (a capnp config serving the bundled worker; no nodejs_compat)',
    { skip: existsSync(bin('workerd')) ? false : 'node_modules/.bin/workerd is missing' },
    async () => {
      const port = await freePort();
      writeFileSync(
        path.join(dir, 'config.capnp'),
        [
          'using Workerd = import "/workerd/workerd.capnp";',
          'const config :Workerd.Config = (',
          '  services = [ (name = "main", worker = .worker) ],',
          `  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],`,
          ');',
          'const worker :Workerd.Worker = (',
          '  modules = [ (name = "worker.js", esModule = embed "worker.js") ],',
          '  compatibilityDate = "2024-09-23",',
          ');',
        ].join('\n'),
      );
      const s = await start(bin('workerd'), ['serve', 'config.capnp'], port);
      try {
        await checkRuntime(`http://127.0.0.1:${s.port}`);
        assert.doesNotMatch(s.log(), /Uncaught|Error/, 'no error at module scope or per request');
      } finally {
        s.child.kill();
      }
    },
  );
});
