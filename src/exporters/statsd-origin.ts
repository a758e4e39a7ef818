import type * as NodeFs from 'node:fs';
import { nodeBuiltin } from '../core/runtime.js';

/**
 * DogStatsD origin detection: the container id sent as the `|c:<id>` field (DogStatsD protocol v1.2)
 * so the Agent tags the metrics with the container's tags. The same steps, in the same order, as
 * hot-shots' `lib/originDetection.js` (which follows the official Datadog clients):
 *
 * 1. Linux only.
 * 2. In the host cgroup namespace (`/proc/self/ns/cgroup` has the kernel's fixed inode 0xEFFFFFFB):
 *    the first container id in `/proc/self/cgroup`, else in `/proc/self/mountinfo` (lines naming
 *    containerd `sandboxes` skipped). Ids: 64 hex digits (Docker, containerd), 32 hex digits and a
 *    task number (ECS), or a UUID (Garden).
 * 3. Otherwise (a private cgroup namespace, cgroup v2), or when step 2 found nothing: `in-<inode>` of
 *    the process's cgroup directory under `/sys/fs/cgroup` (the memory controller's on cgroup v1,
 *    the unified one on v2), when that inode is above 2; the Agent maps it to the container.
 *
 * Never throws: no id is the normal case outside containers.
 */

const HOST_CGROUP_NAMESPACE_INODE = 0xeffffffb;
const CONTAINER_ID = /([0-9a-f]{64})|([0-9a-f]{32}-\d+)|([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})/;

/** What detection reads; tests pass fixture files. */
export interface OriginFiles {
  platform: string;
  readFile(path: string): string;
  inode(path: string): number;
}

function hostFiles(): OriginFiles | undefined {
  const fs = nodeBuiltin<typeof NodeFs>('node:fs');
  const platform = (globalThis as { process?: { platform?: string } }).process?.platform;
  if (fs === undefined || platform === undefined) return undefined;
  return {
    platform,
    readFile: (path) => fs.readFileSync(path, 'utf8'),
    inode: (path) => fs.statSync(path).ino,
  };
}

function firstId(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.includes('sandboxes')) continue;
    const m = CONTAINER_ID.exec(line);
    if (m) return m[0];
  }
  return undefined;
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function cgroupInode(files: OriginFiles): string | undefined {
  const text = attempt(() => files.readFile('/proc/self/cgroup'));
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    const parts = line.split(':');
    if (parts.length < 3) continue;
    const controller = parts[1];
    const node = parts.slice(2).join(':');
    let segment: string | undefined;
    if (controller === '') segment = '';
    else if (controller.split(',').includes('memory')) segment = '/memory';
    if (segment === undefined) continue;
    const ino = attempt(() => files.inode(`/sys/fs/cgroup${segment}${node}`));
    if (ino !== undefined && ino > 2) return `in-${ino}`;
  }
  return undefined;
}

/** The container id for `|c:`, or undefined (not Linux, not in a container, no file system). */
export function detectContainerId(files: OriginFiles | undefined = hostFiles()): string | undefined {
  if (files === undefined || files.platform !== 'linux') return undefined;
  if (attempt(() => files.inode('/proc/self/ns/cgroup')) === HOST_CGROUP_NAMESPACE_INODE) {
    const id =
      firstId(attempt(() => files.readFile('/proc/self/cgroup')) ?? '') ??
      firstId(attempt(() => files.readFile('/proc/self/mountinfo')) ?? '');
    if (id !== undefined) return id;
  }
  return cgroupInode(files);
}
