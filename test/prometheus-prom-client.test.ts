/**
 * prom-client interop: apimeter's families registered in a real prom-client 15 registry, next to the
 * app's own metrics and prom-client's default process metrics, in both of its output formats.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import client from 'prom-client';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { registerApimeter, renderPrometheus } from '../src/exporters/prometheus.js';
import { parseExposition } from './helpers/prometheus.js';
import type { Family } from './helpers/prometheus.js';
import { PROMTOOL_SKIP, promtoolCheckMetrics } from './helpers/prometheus-server.js';

/** prom-client separates families with an empty line (allowed by the 0.0.4 format). */
const squeeze = (text: string) => text.replace(/\n\n+/g, '\n');
const samples = (f: Family | undefined) => f?.samples.map((s) => [s.name, s.labels, s.value]);

describe('registerApimeter: apimeter in a prom-client registry', () => {
  test('same samples as apimeter’s own exposition, beside the app’s metrics and process metrics; re-read per scrape', async (t) => {
    // prometheus_naming = legacy: the per-status sketches of the legacy duration histogram from the first request.
    const meter = createMeter({ iniPath: false, env: {}, prometheusNaming: 'legacy' });
    const ep = meter.endpoint('GET', '/items/{id}')!;
    for (const ms of [2, 20, 200]) meter.record(ep, 200, ms, -1, 100, ErrorKind.None);
    meter.record(ep, 503, 9, -1, -1, ErrorKind.None);

    const registry = new client.Registry<client.RegistryContentType>();
    client.collectDefaultMetrics({ register: registry });
    const jobs = new client.Counter({ name: 'app_jobs_total', help: 'Jobs run.', registers: [registry] });
    jobs.inc(3);
    const names = registerApimeter(registry, meter, { naming: 'legacy' });
    assert.ok(names.includes('http_request_duration_seconds') && names.includes('http_requests_total'));

    const text = await registry.metrics();
    const theirs = parseExposition(squeeze(text), 'text');
    const ours = parseExposition(renderPrometheus(meter, { naming: 'legacy' }), 'text');
    for (const name of names) {
      assert.deepEqual(samples(theirs.get(name)), samples(ours.get(name)), name);
      assert.equal(theirs.get(name)!.type, ours.get(name)!.type, name);
      assert.equal(theirs.get(name)!.help, ours.get(name)!.help, name);
    }
    assert.equal(theirs.get('app_jobs_total')!.samples[0].value, 3);
    assert.ok(theirs.has('process_cpu_user_seconds_total'), 'default process metrics');
    if (PROMTOOL_SKIP === false) {
      // prom-client's own default metrics fail promtool's lint (gauges named `nodejs_active_*_total`);
      // nothing of apimeter's may.
      const r = promtoolCheckMetrics(text);
      const problems = r.output.split('\n').filter((l) => /^\w+ /.test(l));
      assert.ok(problems.length > 0 || r.status === 0, r.output);
      for (const line of problems) assert.match(line, /^nodejs_active_\w+_total /, r.output);
    } else t.diagnostic(PROMTOOL_SKIP);

    // The next scrape reads the meter again.
    meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
    await sleep(5);
    const again = parseExposition(squeeze(await registry.metrics()), 'text');
    const count = again
      .get('http_request_duration_seconds')!
      .samples.find((s) => s.name.endsWith('_count') && s.labels.status_code === '200')!;
    assert.equal(count.value, 4);

    // prom-client's OpenMetrics output: counter families without `_total`, samples with it.
    registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
    const om = (await registry.metrics()).split('\n');
    assert.ok(om.includes('# TYPE http_requests counter'), 'family named without _total');
    assert.deepEqual(
      om.filter((l) => l.startsWith('http_requests')),
      [
        'http_requests_total{method="GET",route="/items/:id",status_code="200"} 4',
        'http_requests_total{method="GET",route="/items/:id",status_code="503"} 1',
      ],
    );
    assert.equal(om.at(-2), '# EOF');
  });

  test('a name the registry already has is refused by prom-client', () => {
    const meter = createMeter({ iniPath: false, env: {} });
    meter.record(meter.endpoint('GET', '/x')!, 200, 1, -1, -1, ErrorKind.None);
    const registry = new client.Registry<client.RegistryContentType>();
    new client.Counter({ name: 'http_requests_total', help: 'theirs', registers: [registry] });
    assert.throws(() => registerApimeter(registry, meter, { naming: 'legacy' }), /already been registered/);
  });
});
