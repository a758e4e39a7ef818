// Alerts and SLOs: firing and pending alerts, each SLO's error budget and burn-down. When the API has no
// alerts (routes absent, or alerts not started) the view says so.
import { seconds, timeChart } from './charts.js';
import { get } from './client.js';
import { fill, fmtInt, fmtNum, fmtPct, fmtTime, h, notice, panel, table } from './dom.js';

let routesKnown = null;

/** Whether this API serves /alerts at all (asked once, from its OpenAPI document). */
async function hasAlertRoutes() {
  if (routesKnown !== null) return routesKnown;
  const answer = await get('/openapi.json');
  const paths = Object.keys(answer.body?.paths ?? {});
  routesKnown = paths.some((p) => p.endsWith('/alerts'));
  return routesKnown;
}

export function alertsView(root) {
  const alertsBox = h('div', { id: 'alerts-box' });
  const sloBox = h('div', { className: 'grid2', id: 'slo-box' });
  root.append(h('h1', {}, 'Alerts and SLOs'), panel('Alerts', alertsBox), h('h2', {}, 'SLOs'), sloBox);
  let charts = [];

  return {
    async refresh() {
      if (!(await hasAlertRoutes())) {
        fill(alertsBox, notice('Alerts not configured: this API has no alerts routes.'));
        fill(sloBox);
        return;
      }
      const [alerts, slos] = await Promise.all([get('/alerts'), get('/slo')]);
      if (alerts.status === 404) {
        fill(alertsBox, notice('Alerts not configured (start them with startAlerts; see docs/alerts.md).'));
        fill(sloBox);
        return;
      }
      if (alerts.status !== 200) throw new Error(alerts.body?.detail ?? `HTTP ${alerts.status}`);
      const active = (alerts.body.alerts ?? []).filter((a) => a.state === 'firing' || a.state === 'pending');
      fill(
        alertsBox,
        h(
          'p',
          { className: 'muted' },
          `evaluated ${fmtTime(alerts.body.evaluated_at)} · ${fmtInt(alerts.body.evaluations)} evaluations`,
        ),
        table(
          [
            { label: 'state', value: (a) => h('span', { className: `badge ${a.state}` }, a.state) },
            { label: 'rule', value: (a) => a.rule },
            { label: 'endpoint', cls: 'route', value: (a) => a.endpoint ?? '(all)' },
            { label: 'severity', value: (a) => a.severity },
            {
              label: 'value',
              num: true,
              value: (a) => `${fmtNum(a.value, 4)} ${a.op ?? ''} ${fmtNum(a.threshold, 4)}`,
            },
            { label: 'since', value: (a) => fmtTime(a.since) },
          ],
          active,
          'no alert is firing or pending',
        ),
      );
      for (const c of charts) c.destroy();
      charts = [];
      const list = slos.status === 200 ? (slos.body.slos ?? []) : [];
      if (list.length === 0) {
        fill(sloBox, h('p', { className: 'muted' }, 'No SLO is defined.'));
        return;
      }
      const details = await Promise.all(list.map((s) => get(`/slo/${encodeURIComponent(s.name)}`)));
      fill(sloBox);
      list.forEach((s, i) => {
        const budget = s.budget ?? {};
        const box = panel(
          s.name,
          h('p', {}, s.description ?? ''),
          h(
            'p',
            {},
            `objective ${fmtPct(s.objective, 3)} over ${s.period} · SLI ${fmtPct(s.sli_value, 3)} · budget left `,
            h('strong', {}, fmtPct(budget.remaining_share, 1)),
            s.time_to_exhaustion_seconds
              ? ` · exhausted in ${fmtNum(s.time_to_exhaustion_seconds / 3600, 1)} h at this rate`
              : '',
          ),
        );
        sloBox.append(box);
        const points = details[i].status === 200 ? (details[i].body.burn_down ?? []) : [];
        if (points.length > 0) {
          const chart = timeChart(box, { height: 180, format: (v) => fmtPct(v, 1) });
          chart.update(
            points.map((p) => seconds(p.at)),
            [{ label: 'budget left', values: points.map((p) => p.remaining_share) }],
          );
          charts.push(chart);
        }
      });
    },
    restyle() {
      for (const c of charts) c.restyle();
    },
    destroy() {
      for (const c of charts) c.destroy();
    },
  };
}
