/* eslint-disable @typescript-eslint/no-unused-expressions -- the StatsD daemon evals this file: one object expression */
/*
 * Etsy StatsD daemon (npm statsd) forwarding to Graphite. apimeter side (apimeter.ini):
 *   [metrics]
 *   statsd_on = true
 *   statsd_host = 127.0.0.1
 *   statsd_port = 8125
 * Plain StatsD folds endpoint and method into the name: apimeter.api.request.count.<endpoint>.<method>.<status_class>
 * (docs/exporters.md). Run: npx statsd examples/statsd/config.js
 */
({
  port: 8125,
  address: '127.0.0.1',
  flushInterval: 10000,
  backends: ['./backends/graphite'],
  graphiteHost: '127.0.0.1',
  graphitePort: 2003,
  graphite: {
    legacyNamespace: false,
    globalPrefix: 'stats',
  },
  // apimeter sends request.size.bytes / response.size.bytes as timers (ms) for plain StatsD.
  percentThreshold: [50, 95, 99],
  deleteIdleStats: true,
});
