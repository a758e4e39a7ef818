/**
 * One instance of the cluster test (test/store-cluster.test.ts): its own meter and traffic, writing to
 * the shared PostgreSQL schema given in argv. Traffic is a pure function of the instance number, so
 * the parent test knows every duration without being told.
 */
import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { SnapshotTask } from '../../src/store/snapshot-task.js';
import { clusterTraffic, CLUSTER_T0 } from './store-cluster-traffic.js';

const [url, schema, index] = process.argv.slice(2);
const n = Number(index);
const store = await openPostgresStore({ url, schema });
const clock = new ManualClock(CLUSTER_T0);
const meter = createMeter({ iniPath: false, env: {}, clock });
const task = new SnapshotTask({ meter, store, instance: `node-${n}`, intervalSeconds: 60, graceMs: 0 });
for (const r of clusterTraffic(n)) {
  clock.set(r.at);
  meter.record(meter.endpoint('GET', r.route)!, r.status, r.durationMs, -1, -1, ErrorKind.None);
}
clock.set(CLUSTER_T0 + 5 * 60_000);
await task.runOnce();
await task.stop();
await store.close();
process.stdout.write(JSON.stringify(task.stats) + '\n');
