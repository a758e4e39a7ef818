// Time-series charts drawn by uPlot (loaded as a classic script before the modules: window.uPlot).
import { h } from './dom.js';

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const COLORS = ['--c1', '--c2', '--c3', '--c4', '--c5'];

/**
 * A chart in `container`: `update(times, series)` with times in seconds and series `{ label, values,
 * unit }`. Rebuilt when the set of series changes, otherwise given the new data; follows the container's
 * width.
 */
export function timeChart(container, { height = 220, format = (v) => String(v) } = {}) {
  const box = h('div', { className: 'chart' });
  container.append(box);
  let plot = null;
  let labels = '';
  let last = null;
  let span = null;
  const width = () => Math.max(260, box.clientWidth || container.clientWidth || 600);
  const observer = new ResizeObserver(() => plot?.setSize({ width: width(), height }));
  observer.observe(box);

  function build(times, series) {
    plot?.destroy();
    const axis = {
      stroke: css('--muted'),
      grid: { stroke: css('--line'), width: 1 },
      ticks: { stroke: css('--line') },
    };
    plot = new window.uPlot(
      {
        width: width(),
        height,
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: css(COLORS[i % COLORS.length]),
            width: 1.5,
            spanGaps: false,
            value: (_u, v) => (v === null || v === undefined ? '–' : format(v)),
          })),
        ],
        axes: [axis, { ...axis, size: 80, values: (_u, ticks) => ticks.map((v) => format(v)) }],
        // The x axis spans the range asked for (the whole window), not just the slots with data.
        scales: {
          x: {
            time: true,
            range: () => span,
          },
          // From zero (or the lowest negative value), so no line leaves the plot at the bottom.
          y: { range: (_u, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.1 : 1] },
        },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      [times, ...series.map((s) => s.values)],
      box,
    );
  }

  return {
    /** `range`: [from, to] in seconds, the x axis' extent (default: the data's). */
    update(times, series, range = null) {
      const first = times[0] ?? Date.now() / 1000;
      const lastAt = times[times.length - 1] ?? first;
      span = range ?? (first === lastAt ? [first - 60, lastAt + 60] : [first, lastAt]);
      last = [times, series, range];
      const key = series.map((s) => s.label).join('\0');
      if (plot === null || key !== labels) {
        labels = key;
        build(times, series);
      } else plot.setData([times, ...series.map((s) => s.values)]);
      plot.redraw();
    },
    /** Redraws with the current colours (after the system switched between light and dark). */
    restyle() {
      if (last !== null) build(last[0], last[1]);
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
    },
  };
}

/** Seconds since the epoch of an ISO time, for uPlot's x axis. */
export const seconds = (iso) => Date.parse(iso) / 1000;

/** An answer's `range` as the x axis' [from, to] in seconds. */
export const extent = (range) => (range ? [seconds(range.from), seconds(range.to)] : null);
