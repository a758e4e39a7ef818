// Consumers: who calls the API (metrics_consumers). The top consumers since start-up with requests
// (± the Space-Saving error bound), errors, p95 and endpoints used; #/consumers/<id> adds that consumer's
// endpoints. Ids are shown as text (never markup); `sub:` / `key:` ids are keyed hashes of credentials.
import { csvUrl, get, getOk } from './client.js';
import { endpointLink, fill, fmtInt, fmtMs, fmtPct, h, notice, panel, table } from './dom.js';

const consumerLink = (c) => h('a', { href: `#/consumers/${encodeURIComponent(c.id)}` }, c.id);
const requestsText = (c) =>
  c.error_bound > 0 ? `${fmtInt(c.requests)} ±${fmtInt(c.error_bound)}` : fmtInt(c.requests);

export function consumersView(root, selected) {
  const listBox = h('div', { id: 'consumers-box' });
  const detailBox = h('div', { id: 'consumer-detail' });
  const csv = h('a', { className: 'btn', href: csvUrl('/consumers', {}), attrs: { download: '' } }, 'CSV');
  root.append(
    h('h1', {}, 'Consumers'),
    h('p', { className: 'muted' }, 'Since start-up. ', csv),
    panel('Top consumers', listBox),
    detailBox,
  );

  return {
    async refresh() {
      const answer = await get('/consumers', { limit: 100 });
      if (answer.status === 404) {
        fill(listBox, notice('Consumers are not tracked: set [api] metrics_consumers = true (docs/consumers.md).'));
        fill(detailBox);
        return;
      }
      if (answer.status !== 200) throw new Error(answer.body?.detail ?? `HTTP ${answer.status}`);
      const range = answer.body.range;
      fill(
        listBox,
        h(
          'p',
          { className: 'muted' },
          `${fmtInt(range.requests)} requests · ${fmtInt(range.other_requests)} outside the listed consumers · ` +
            `any unlisted consumer has at most ${fmtInt(range.unlisted_bound)}`,
        ),
        table(
          [
            { label: 'consumer', cls: 'route', value: consumerLink },
            { label: 'group', value: (c) => c.group ?? '' },
            { label: 'requests', num: true, value: requestsText },
            { label: 'errors', num: true, value: (c) => fmtInt(c.errors) },
            { label: 'error rate', num: true, value: (c) => fmtPct(c.error_rate, 1) },
            { label: 'p95', num: true, value: (c) => fmtMs(c.latency_ms.p95) },
            { label: 'endpoints', num: true, value: (c) => fmtInt(c.endpoints_used) },
          ],
          answer.body.consumers,
          'no consumer recorded yet',
        ),
      );
      if (selected === undefined) return;
      const c = await getOk(`/consumers/${encodeURIComponent(selected)}`);
      fill(
        detailBox,
        panel(
          `Consumer ${c.id}`,
          h(
            'p',
            {},
            `${requestsText(c)} requests · ${fmtInt(c.errors)} errors · p95 ${fmtMs(c.latency_ms.p95)}` +
              (c.group ? ` · group ${c.group}` : ''),
          ),
          table(
            [
              { label: 'endpoint', cls: 'route', value: endpointLink },
              { label: 'requests', num: true, value: (e) => fmtInt(e.requests) },
              { label: 'errors', num: true, value: (e) => fmtInt(e.errors) },
            ],
            c.endpoints,
          ),
        ),
      );
    },
    destroy() {},
  };
}
