import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { dashboardSpecs } from './grafana-panels.js';
import type { DashboardSpec, PanelSpec } from './grafana-panels.js';
import type { ArtifactOptions } from './types.js';

/**
 * Grafana dashboards (classic JSON model, importable from a file or provisioned) built with the Grafana
 * foundation SDK from the panel specs of grafana-panels.ts. The SDK is a development/optional
 * dependency: the CLI imports this module lazily.
 */

const DATASOURCE: { type: string; uid: string } = { type: 'prometheus', uid: '${datasource}' };

function target(spec: PanelSpec, expr: string, legend: string, i: number) {
  const t = new prometheus.DataqueryBuilder()
    .datasource(DATASOURCE)
    .expr(expr)
    .refId(String.fromCharCode(65 + i));
  if (legend !== '') t.legendFormat(legend);
  return spec.instant === true ? t.instant() : t.range();
}

function panelBuilder(spec: PanelSpec) {
  const description = spec.detailed ? `${spec.description} Needs [api] metrics_detailed = true.` : spec.description;
  const withCommon = <
    B extends {
      title(t: string): B;
      description(d: string): B;
      datasource(d: typeof DATASOURCE): B;
      unit(u: string): B;
      span(w: number): B;
      height(h: number): B;
      withTarget(t: prometheus.DataqueryBuilder): B;
    },
  >(
    b: B,
  ): B => {
    b.title(spec.title)
      .description(description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .span(spec.width)
      .height(spec.kind === 'stat' ? 4 : 8);
    spec.queries.forEach((q, i) => b.withTarget(target(spec, q.expr, q.legend, i)));
    return b;
  };
  switch (spec.kind) {
    case 'stat':
      return withCommon(new stat.PanelBuilder())
        .graphMode(common.BigValueGraphMode.Area)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
    case 'bargauge':
      return withCommon(new bargauge.PanelBuilder())
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Gradient)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
    default:
      return withCommon(new timeseries.PanelBuilder())
        .fillOpacity(10)
        .legend(
          new common.VizLegendOptionsBuilder()
            .displayMode(common.LegendDisplayMode.Table)
            .placement(common.LegendPlacement.Bottom)
            .showLegend(true)
            .calcs(['mean', 'max']),
        );
  }
}

/** One dashboard as Grafana's JSON model. */
export function buildDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const d = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([...spec.tags])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  for (const v of spec.variables) {
    d.withVariable(
      new dashboard.QueryVariableBuilder(v.name)
        .label(v.label)
        .datasource(DATASOURCE)
        .query({ query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
        .definition(v.query)
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(v.multi)
        .includeAll(v.multi)
        .allValue('.*'),
    );
  }
  for (const row of spec.rows) {
    d.withRow(new dashboard.RowBuilder(row.title));
    for (const p of row.panels) d.withPanel(panelBuilder(p));
  }
  return d.build();
}

/** Every dashboard of `apimeter export grafana`, by file name, as JSON text. */
export function grafanaDashboards(o: ArtifactOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, spec] of Object.entries(dashboardSpecs(o))) {
    out[file] = JSON.stringify(buildDashboard(spec), null, 2) + '\n';
  }
  return out;
}
