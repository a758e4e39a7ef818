import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization, IntervalHistogram } from 'node:perf_hooks';

export interface ProcessFigures {
  cpu_percent: number | null;
  rss_bytes: number;
  heap_used_bytes: number;
  heap_total_bytes: number;
  event_loop_delay_p99_ms: number | null;
  event_loop_utilization: number | null;
  uptime_seconds: number;
}

interface Sample {
  wall: number;
  cpu: NodeJS.CpuUsage;
  elu: EventLoopUtilization;
}

const sample = (): Sample => ({
  wall: performance.now(),
  cpu: process.cpuUsage(),
  elu: performance.eventLoopUtilization(),
});

/** Samples the delay histogram needs before its p99 is shown rather than the previous period's. */
const MIN_DELAY_SAMPLES = 50;

/**
 * Process resources for /health: CPU % (of one core), memory, event-loop delay p99 and utilization.
 * Nothing runs until the first reading; then an unref'd timer rolls the baseline every `periodMs`, so a
 * reading covers the last one to two periods (the first covers the time since the process started).
 */
export class ProcessMonitor {
  private histogram: IntervalHistogram | null = null;
  private timer: NodeJS.Timeout | null = null;
  private baseline: Sample | null = null;
  private pending: Sample | null = null;
  private lastDelayP99: number | null = null;

  constructor(private readonly periodMs = 10_000) {}

  private start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.pending = sample();
    this.timer = setInterval(() => this.roll(), this.periodMs);
    this.timer.unref();
  }

  private roll(): void {
    this.baseline = this.pending;
    this.pending = sample();
    const h = this.histogram!;
    if (h.count >= MIN_DELAY_SAMPLES) this.lastDelayP99 = h.percentile(99) / 1e6;
    h.reset();
  }

  read(): ProcessFigures {
    if (this.histogram === null) this.start();
    const now = sample();
    const base = this.baseline;
    const memory = process.memoryUsage();
    let cpu: number | null;
    let elu: number | null;
    if (base === null) {
      const total = now.cpu.user + now.cpu.system;
      cpu = (100 * total) / (process.uptime() * 1e6);
      elu = now.elu.utilization;
    } else {
      const micros = now.cpu.user - base.cpu.user + (now.cpu.system - base.cpu.system);
      const wallMicros = (now.wall - base.wall) * 1000;
      cpu = wallMicros > 0 ? (100 * micros) / wallMicros : null;
      elu = performance.eventLoopUtilization(now.elu, base.elu).utilization;
    }
    const h = this.histogram!;
    const delay = h.count >= MIN_DELAY_SAMPLES ? h.percentile(99) / 1e6 : this.lastDelayP99;
    const clean = (n: number | null) => (n === null || !Number.isFinite(n) ? null : Math.max(0, n));
    return {
      cpu_percent: clean(cpu),
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
      event_loop_delay_p99_ms: clean(delay),
      event_loop_utilization: elu === null || !Number.isFinite(elu) ? null : Math.min(1, Math.max(0, elu)),
      uptime_seconds: process.uptime(),
    };
  }

  /** Stops the timer and the delay histogram (a later reading starts them again). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.histogram?.disable();
    this.timer = null;
    this.histogram = null;
    this.baseline = null;
    this.pending = null;
    this.lastDelayP99 = null;
  }
}
