import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import { SnapshotTask } from '../../src/store/snapshot-task.js';
import { openSqliteStore } from '../../src/store/sqlite.js';

const root = process.getuid?.() === 0;

/** A tmpfs mounted at a new directory (root only); undefined when mounting is not permitted. */
function mountTmpfs(options: string): string | undefined {
  if (!root) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A real directory this process cannot write: a read-only tmpfs when running as root (root ignores
 * permission bits), else a directory with mode 0555.
 */
function readOnlyDir(): { dir: string; cleanup: () => void } {
  const mounted = mountTmpfs('ro,size=1m');
  if (mounted !== undefined) return { dir: mounted, cleanup: () => unmount(mounted) };
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-ro-'));
  chmodSync(dir, 0o555);
  return { dir, cleanup: () => (chmodSync(dir, 0o755), rmSync(dir, { recursive: true, force: true })) };
}

const canMount = mountTmpfs('size=64k');
if (canMount !== undefined) unmount(canMount);

test('a read-only directory: a coded error naming the path and what to do', async () => {
  const { dir, cleanup } = readOnlyDir();
  try {
    for (const path of [join(dir, 'apimeter.db'), join(dir, 'nested', 'apimeter.db')]) {
      await assert.rejects(openSqliteStore(path), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'APIMETER_ERR_STORE_OPEN', e.message);
        assert.ok(e.message.includes(path), `the message names ${path}: ${e.message}`);
        assert.match(e.message, /writable/);
        return true;
      });
    }
  } finally {
    cleanup();
  }
});

test(
  'a full disk: the write fails with a coded error naming the path; the rows stay buffered',
  { skip: canMount === undefined && 'needs root to mount a small tmpfs' },
  async () => {
    const dir = mountTmpfs('size=512k')!;
    const path = join(dir, 'apimeter.db');
    const store = await openSqliteStore(path);
    try {
      // Fill what is left of the disk.
      const fd = openSync(join(dir, 'filler'), 'w');
      try {
        const block = Buffer.alloc(4096, 1);
        for (;;) writeSync(fd, block);
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
      const clock = new ManualClock(Date.UTC(2025, 2, 3, 12, 0, 30));
      const meter = createMeter({ iniPath: false, env: {}, clock });
      const errors: (Error & { code?: string })[] = [];
      const task = new SnapshotTask({
        meter,
        store,
        instance: 'd',
        intervalSeconds: 60,
        graceMs: 0,
        onError: (e) => errors.push(e as Error),
      });
      for (let i = 0; i < 200; i++)
        meter.record(meter.endpoint('GET', `/disk/${i}`)!, 200, 1 + i, 10, 5000, ErrorKind.None);
      clock.set(Date.UTC(2025, 2, 3, 12, 1, 0));
      await task.runOnce();
      assert.equal(task.stats.written, 0);
      assert.equal(task.stats.buffered, 200);
      assert.equal(errors[0]?.code, 'APIMETER_ERR_STORE_FULL', errors[0]?.message);
      assert.ok(errors[0].message.includes(path), errors[0].message);
      assert.ok(task.health().lastError?.includes(path));
      rmSync(join(dir, 'filler'));
      await task.runOnce();
      assert.equal(task.stats.written, 200, 'written once there is room again');
      await task.stop();
    } finally {
      await store.close();
      unmount(dir);
    }
  },
);
