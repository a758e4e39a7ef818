/**
 * DogStatsD conventions: the `DD_*` variables with hot-shots's precedence (checked against a real
 * hot-shots client built with the same inputs), origin detection (`|c:`) from cgroup files as
 * hot-shots reads them, and protocol v1.1 value packing in `values` mode over a real UDP socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { createStatsdExporter, statsdOptionsFromConfig } from '../src/exporters/statsd.js';
import { applyDatadogEnv } from '../src/exporters/statsd-datadog-env.js';
import { detectContainerId } from '../src/exporters/statsd-origin.js';
import type { OriginFiles } from '../src/exporters/statsd-origin.js';
import { eventually, startDogStatsdReceiver } from './helpers/exporters.js';

const require = createRequire(import.meta.url);
type HotShotsClient = {
  host?: string;
  port: number;
  globalTags: string[];
  mockBuffer: string[];
  close(): void;
  timing(name: string, value: number, tags: string[]): void;
};
const HotShots = require('hot-shots') as new (options: object) => HotShotsClient;

const DD_VARS = ['DD_AGENT_HOST', 'DD_DOGSTATSD_PORT', 'DD_ENV', 'DD_SERVICE', 'DD_VERSION', 'DD_ENTITY_ID'];

/** A hot-shots client built under `env` (it reads process.env), with explicit host/port/tags when given. */
function hotShots(env: Record<string, string>, explicit: { host?: string; port?: number; tags?: string[] }) {
  const saved = DD_VARS.map((k) => [k, process.env[k]] as const);
  for (const k of DD_VARS) delete process.env[k];
  Object.assign(process.env, env);
  try {
    return new HotShots({ mock: true, host: explicit.host, port: explicit.port, globalTags: explicit.tags ?? [] });
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('DD_* variables: host, port and unified service tags with hot-shots precedence (compared with hot-shots)', () => {
  const cases: { env: Record<string, string>; host?: string; port?: number; tags?: string[] }[] = [
    { env: {} },
    { env: { DD_AGENT_HOST: '10.0.0.7', DD_DOGSTATSD_PORT: '8135' } },
    { env: { DD_AGENT_HOST: '10.0.0.7', DD_DOGSTATSD_PORT: '8135' }, host: 'agent.local', port: 9125 },
    { env: { DD_DOGSTATSD_PORT: 'nope' } },
    { env: { DD_ENV: 'prod', DD_SERVICE: 'web', DD_VERSION: '1.2.3' }, tags: ['env:dev', 'team:api'] },
    { env: { DD_ENTITY_ID: 'pod-uid-1', DD_SERVICE: 'web' }, tags: ['service:old', 'region:eu'] },
  ];
  for (const c of cases) {
    const hs = hotShots(c.env, c);
    const ours = applyDatadogEnv(
      { host: c.host ?? 'localhost', port: c.port ?? 8125, constantTags: c.tags ?? [] },
      c.env,
    );
    // hot-shots leaves host undefined (its socket then uses localhost); apimeter's default is localhost.
    assert.equal(ours.host, hs.host ?? 'localhost', JSON.stringify(c));
    assert.equal(ours.port, hs.port, JSON.stringify(c));
    assert.deepEqual(ours.constantTags, hs.globalTags, JSON.stringify(c));
    hs.close();
  }
});

test('DD_TAGS adds tags (commas or spaces); an explicit tag of the same key wins; origin detection can be turned off', () => {
  const r = applyDatadogEnv(
    { host: 'localhost', port: 8125, constantTags: ['team:api'] },
    { DD_TAGS: 'team:other,region:eu zone:a', DD_ORIGIN_DETECTION_ENABLED: 'false' },
  );
  assert.deepEqual(r.constantTags, ['team:api', 'region:eu', 'zone:a']);
  assert.equal(r.originDetection, false);
  for (const off of ['no', '0', 'N', ' off ']) {
    assert.equal(
      applyDatadogEnv({ host: 'h', port: 1, constantTags: [] }, { DD_ORIGIN_DETECTION_ENABLED: off }).originDetection,
      false,
      off,
    );
  }
  assert.equal(
    applyDatadogEnv({ host: 'h', port: 1, constantTags: [] }, { DD_ORIGIN_DETECTION_ENABLED: 'true' }).originDetection,
    true,
  );
  assert.equal(applyDatadogEnv({ host: 'h', port: 1, constantTags: [] }, {}).originDetection, true);
});

test('statsdOptionsFromConfig applies DD_* only where apimeter keys are at their defaults; tags only for DogStatsD', () => {
  const env = {
    DD_AGENT_HOST: 'dd-agent',
    DD_DOGSTATSD_PORT: '8200',
    DD_ENV: 'prod',
    DD_ORIGIN_DETECTION_ENABLED: 'no',
  };
  const dog = createMeter({
    iniPath: false,
    env: {},
    statsdDatadogEnabled: true,
    statsdDatadogTags: ['env:dev', 'a:b'],
  });
  const o = statsdOptionsFromConfig(dog.config, env);
  assert.equal(o.host, 'dd-agent');
  assert.equal(o.port, 8200);
  assert.deepEqual(o.constantTags, ['a:b', 'env:prod']);
  assert.equal(o.containerId, '');
  const explicit = createMeter({ iniPath: false, env: {}, statsdHost: 'statsd.internal', statsdPort: 9999 });
  const p = statsdOptionsFromConfig(explicit.config, env);
  assert.equal(p.host, 'statsd.internal');
  assert.equal(p.port, 9999);
  assert.deepEqual(p.constantTags, [], 'plain StatsD has no tags');
});

/** Fixture files for detection; `inodes` maps paths to inode numbers, anything else is missing. */
function files(platform: string, text: Record<string, string>, inodes: Record<string, number>): OriginFiles {
  return {
    platform,
    readFile: (p) => {
      if (!(p in text)) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return text[p];
    },
    inode: (p) => {
      if (!(p in inodes)) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return inodes[p];
    },
  };
}

const HOST_NS = { '/proc/self/ns/cgroup': 0xeffffffb };
const DOCKER_ID = '3726184226f5d3147c25fdeab5b60097e378e8a720503a5e19ecfdf29f869860';

test('origin detection: container ids from cgroup, then mountinfo, then the cgroup inode, as hot-shots does', () => {
  // cgroup v1 under Docker, host cgroup namespace: the id in /proc/self/cgroup.
  const v1 = `12:memory:/docker/${DOCKER_ID}\n11:cpu,cpuacct:/docker/${DOCKER_ID}\n0::/\n`;
  assert.equal(detectContainerId(files('linux', { '/proc/self/cgroup': v1 }, HOST_NS)), DOCKER_ID);
  // ECS task ids and UUIDs (Garden).
  const ecs = '9:perf_event:/ecs/5a081c13b5b6f4b0b2fbb4fbdfe4a1bd-3305347154\n';
  assert.equal(
    detectContainerId(files('linux', { '/proc/self/cgroup': ecs }, HOST_NS)),
    '5a081c13b5b6f4b0b2fbb4fbdfe4a1bd-3305347154',
  );
  const garden = '1:name=systemd:/system.slice/garden.service/garden/6f1b6a76-8e8b-4c9e-bbd3-4e0e6cbd1a8d\n';
  assert.equal(
    detectContainerId(files('linux', { '/proc/self/cgroup': garden }, HOST_NS)),
    '6f1b6a76-8e8b-4c9e-bbd3-4e0e6cbd1a8d',
  );
  // Nothing in cgroup: mountinfo, skipping containerd sandboxes.
  const mountinfo =
    `1 2 0:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${'a'.repeat(64)}/hostname /etc/hostname rw\n` +
    `3 4 0:2 /var/lib/docker/containers/${DOCKER_ID}/hostname /etc/hostname rw\n`;
  assert.equal(
    detectContainerId(files('linux', { '/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': mountinfo }, HOST_NS)),
    DOCKER_ID,
  );
  // A private cgroup namespace (cgroup v2): the inode of the process's cgroup directory.
  const v2 = files('linux', { '/proc/self/cgroup': '0::/kubepods/pod1\n' }, { '/sys/fs/cgroup/kubepods/pod1': 4242 });
  assert.equal(detectContainerId(v2), 'in-4242');
  // cgroup v1 memory controller path; inodes 0–2 are not ids.
  const mem = files('linux', { '/proc/self/cgroup': '4:memory:/x\n' }, { '/sys/fs/cgroup/memory/x': 77 });
  assert.equal(detectContainerId(mem), 'in-77');
  assert.equal(
    detectContainerId(files('linux', { '/proc/self/cgroup': '0::/\n' }, { '/sys/fs/cgroup/': 1 })),
    undefined,
  );
  // Not Linux, or no files at all.
  assert.equal(detectContainerId(files('darwin', { '/proc/self/cgroup': v1 }, HOST_NS)), undefined);
  assert.equal(detectContainerId(files('linux', {}, {})), undefined);
  // On this machine: whatever the host gives, an id of the accepted alphabet or none.
  const here = detectContainerId();
  assert.ok(here === undefined || /^(?:in-\d+|[0-9a-f-]+)$/.test(here), here);
});

test('values mode on DogStatsD: packed values (protocol v1.1), |c: on every line, bounded datagrams, exact count', async () => {
  const receiver = await startDogStatsdReceiver();
  const meter = createMeter({ iniPath: false, env: {}, statsdDatadogEnabled: true, statsdDatadogTags: ['env:test'] });
  const ep = meter.endpoint('GET', '/dags/{dag_id}')!;
  const durations: number[] = [];
  for (let i = 0; i < 700; i++) {
    const ms = 1 + ((i * 37) % 400) / 3;
    durations.push(ms);
    meter.record(ep, 200, ms, 10, 100, ErrorKind.None);
  }
  const max = 400;
  const exporter = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port: receiver.port,
    flushIntervalMs: 0,
    maxDatagramBytes: max,
    timerMode: 'values',
    containerId: DOCKER_ID,
    onStateChange: () => {},
  });
  try {
    const report = await exporter.flush();
    assert.equal(report.error, null);
    await eventually(() => receiver.lines.length >= report.lines, 'every value');
    assert.deepEqual(receiver.invalid, []);
    for (const d of receiver.datagrams) assert.ok(d.length <= max, `datagram of ${d.length} bytes`);
    const raw = receiver.datagrams.flatMap((d) => d.toString().split('\n'));
    const durationLines = raw.filter((l) => l.startsWith('apimeter.api.request.duration:'));
    assert.ok(durationLines.length > 1 && durationLines.length < 100, `${durationLines.length} packed lines`);
    assert.ok(
      durationLines.every((l) => l.split('|')[0].split(':').length > 2),
      'several values per line',
    );
    for (const l of raw) assert.ok(l.endsWith(`|c:${DOCKER_ID}`), l);
    const got = receiver.lines.filter((l) => l.name === 'apimeter.api.request.duration');
    assert.equal(got.length, durations.length);
    assert.ok(got.every((l) => l.container === DOCKER_ID && l.tags.get('env') === 'test'));
    // Every value within the sketch's bound of the true one, in sorted order.
    const sent = got.map((l) => l.value).sort((a, b) => a - b);
    const exact = [...durations].sort((a, b) => a - b);
    for (let i = 0; i < exact.length; i++)
      assert.ok(Math.abs(sent[i] - exact[i]) / exact[i] < 0.02, `${sent[i]} vs ${exact[i]}`);
  } finally {
    await exporter.close();
    await receiver.close();
  }
});

test('one unpacked line is what hot-shots sends for the same name, value and tags', async () => {
  const receiver = await startDogStatsdReceiver();
  const meter = createMeter({ iniPath: false, env: {}, statsdDatadogEnabled: true, statsdDatadogTags: ['env:test'] });
  const ep = meter.endpoint('GET', '/a')!;
  meter.record(ep, 200, 0, 0, 0, ErrorKind.None);
  const exporter = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port: receiver.port,
    flushIntervalMs: 0,
    timerMode: 'values',
    containerId: '', // hot-shots 13 sends no container field
    onStateChange: () => {},
  });
  try {
    const report = await exporter.flush();
    await eventually(() => receiver.lines.length >= report.lines, 'every line');
    const ours = receiver.datagrams
      .flatMap((d) => d.toString().split('\n'))
      .find((l) => l.startsWith('apimeter.api.request.duration:'))!;
    const hs = hotShots({}, { tags: ['env:test'] });
    hs.timing('apimeter.api.request.duration', 0, ['endpoint:/a', 'method:GET']);
    const theirs = hs.mockBuffer[0];
    // Same name, value, type; the same tags (DogStatsD tag order carries no meaning).
    const [oursHead, oursTags] = ours.split('|#');
    const [theirsHead, theirsTags] = theirs.split('|#');
    assert.equal(oursHead, theirsHead);
    assert.deepEqual(oursTags.split(',').sort(), theirsTags.split(',').sort());
    hs.close();
  } finally {
    await exporter.close();
    await receiver.close();
  }
});
