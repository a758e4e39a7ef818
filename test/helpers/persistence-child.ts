/**
 * A process using startPersistence() from its configuration alone (environment variables), for
 * test/store-persistence.test.ts: records `argv[2]` requests, says "ready", and waits for a signal.
 */
import { createMeter, ErrorKind } from '../../src/index.js';
import { startPersistence } from '../../src/store/persistence.js';

const n = Number(process.argv[2]);
const meter = createMeter({ iniPath: false });
const persistence = await startPersistence(meter);
if (persistence === null) throw new Error('persistence is off');
const ep = meter.endpoint('GET', '/child')!;
for (let i = 0; i < n; i++) meter.record(ep, i % 5 === 0 ? 500 : 200, 1 + i, -1, -1, ErrorKind.None);
process.stdout.write(`ready ${persistence.store.kind}\n`);
// Stay alive until the signal (the store's worker and timers are unref'd).
setInterval(() => undefined, 60_000);
