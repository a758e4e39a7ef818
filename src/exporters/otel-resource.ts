import { randomUUID } from 'node:crypto';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import type { DetectedResourceAttributes, Resource } from '@opentelemetry/resources';

/** One id per process, made on first use: every meter and exporter of the process reports the same. */
let processInstanceId: string | undefined;

/** This process's `service.instance.id` when none is configured: a random UUID, stable for the process's life. */
export function processServiceInstanceId(): string {
  return (processInstanceId ??= randomUUID());
}

/**
 * Attributes of the process detector left out: the command line can carry secrets (`--password=…`),
 * and it goes to every backend with every export.
 */
const DROPPED = new Set(['process.command_args', 'process.command_line', 'process.command']);

/**
 * apimeter's own OTLP resource: the SDK default (`service.name`, `telemetry.sdk.*`), the host and
 * process detectors (`host.name`, `host.arch`, `host.id`, `process.pid`, `process.runtime.*`,
 * `process.executable.*`, `process.owner`; not the command line), OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES, and `service.instance.id`: `instanceId` when given, else the one in
 * OTEL_RESOURCE_ATTRIBUTES, else {@link processServiceInstanceId}. Replicas of one service therefore
 * never share a cumulative series.
 */
export function apimeterResource(instanceId = ''): Resource {
  const detected = detectResources({ detectors: [hostDetector, processDetector] });
  const env = detectResources({ detectors: [envDetector] });
  // Raw attributes: host.id is still a promise here (read from the machine id); the reader awaits it.
  const kept: DetectedResourceAttributes = {};
  for (const [k, v] of detected.getRawAttributes()) if (!DROPPED.has(k)) kept[k] = v;
  let resource = defaultResource().merge(resourceFromAttributes(kept)).merge(env);
  const fromEnv = env.attributes['service.instance.id'];
  const id = instanceId !== '' ? instanceId : typeof fromEnv === 'string' && fromEnv !== '' ? fromEnv : undefined;
  resource = resource.merge(resourceFromAttributes({ 'service.instance.id': id ?? processServiceInstanceId() }));
  return resource;
}
