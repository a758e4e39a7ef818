/**
 * Credentials inside the OTLP endpoint (userinfo, `?api_key=`) never reach the log or /health.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMeter } from '../../src/core/meter.js';
import { redactUrl } from '../../src/core/redact.js';
import { startOtelExporter } from '../../src/exporters/otel.js';
import { eventually, freeTcpPort } from '../helpers/exporters.js';

test('redactUrl hides userinfo and secret-looking query values, and nothing else', () => {
  assert.equal(redactUrl('http://apikey:SECRET@collector:4318/v1/metrics'), 'http://***@collector:4318/v1/metrics');
  assert.equal(redactUrl('https://token@h/x'), 'https://***@h/x');
  assert.equal(
    redactUrl(
      'https://h/v1/metrics?api_key=A&x=1&access_token=B&Signature=C&sig=D&password=E&auth=F&credential=G&secret=H',
    ),
    'https://h/v1/metrics?api_key=***&x=1&access_token=***&Signature=***&sig=***&password=***&auth=***&credential=***&secret=***',
  );
  assert.equal(redactUrl('http://collector:4318/v1/metrics?region=eu'), 'http://collector:4318/v1/metrics?region=eu');
});

for (const where of ['option', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const) {
  test(`secrets in the OTLP endpoint (${where}) appear in no message and no /health field`, async () => {
    const port = await freeTcpPort(); // nothing listens: exports fail and the circuit opens
    const secretUrl = `http://apikey:S3CRET-PW@127.0.0.1:${port}`;
    const messages: string[] = [];
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (where === 'OTEL_EXPORTER_OTLP_ENDPOINT')
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `${secretUrl}/?api_key=S3CRET-KEY`;
    try {
      const meter = createMeter({ iniPath: false, env: {} });
      meter.recordRequest({ method: 'GET', route: '/a', status: 200, durationMs: 1 });
      const otel = await startOtelExporter(meter, {
        ...(where === 'option' && { url: `${secretUrl}/v1/metrics?api_key=S3CRET-KEY&token=S3CRET-TOKEN` }),
        intervalMs: 50,
        timeoutMs: 50,
        circuit: { failureThreshold: 2, cooldownMs: 60_000 },
        onStateChange: (m) => messages.push(m),
      });
      await eventually(() => messages.some((m) => m.includes('circuit open')), 'the circuit to open');
      const health = JSON.stringify(meter.componentHealth());
      assert.match(health, /ECONNREFUSED/);
      assert.match(health, /\*\*\*@127\.0\.0\.1/, 'the target is still shown, redacted');
      const everything = [health, otel.target, ...messages].join('\n');
      assert.doesNotMatch(everything, /S3CRET/);
      await otel.close();
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
    }
  });
}
