// @ts-check
/**
 * @store/otel attached to the store under soak, exporting into the OpenTelemetry
 * SDK's in-memory exporter: the operations, bytes, latency and errors counted
 * from core's tracing channels, and the store's bounds (places in use and
 * queued, buffer memory) as gauges. The summary at the end gives each counter's
 * and histogram's final value and each gauge's highest value over the run (the
 * gauges are read at every export, `intervalMs` apart).
 */
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { instrumentStore } from '@store/otel';

/**
 * @param {import('@store/core').MultiStore} store
 * @param {{ intervalMs?: number }} [options]
 */
export function attachOtel(store, { intervalMs = 5000 } = {}) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: Math.min(intervalMs, 30_000),
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = instrumentStore({ meterProvider, stores: { soak: store } });
  return {
    /**
     * Flushes and summarises every metric: `{ name: { 'attr=value,…': value } }`,
     * a histogram's value being `{ count, sum, mean, max }` in its unit.
     */
    async summary() {
      await reader.forceFlush();
      return summarise(exporter.getMetrics());
    },
    async close() {
      instrumentation.disable();
      await meterProvider.shutdown();
    },
  };
}

/** @param {import('@opentelemetry/api').Attributes} attributes */
function attributeKey(attributes) {
  const entries = Object.entries(attributes).filter(([name]) => name !== 'store.name');
  return entries.length === 0 ? '(all)' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** @param {number} value */
const round = (value) => Math.round(value * 1000) / 1000;

/**
 * @param {import('@opentelemetry/sdk-metrics').ResourceMetrics[]} batches
 * @returns {Record<string, { unit: string, values: Record<string, unknown> }>}
 */
export function summarise(batches) {
  /** @type {Record<string, { unit: string, values: Record<string, unknown> }>} */
  const out = {};
  batches.forEach((batch, index) => {
    const last = index === batches.length - 1;
    for (const metric of batch.scopeMetrics.flatMap((scope) => scope.metrics)) {
      const entry = out[metric.descriptor.name] ?? { unit: metric.descriptor.unit, values: {} };
      out[metric.descriptor.name] = entry;
      for (const point of metric.dataPoints) {
        const key = attributeKey(point.attributes);
        if (metric.dataPointType === DataPointType.GAUGE) {
          // Gauges: the highest value seen at any export.
          const value = /** @type {number} */ (point.value);
          entry.values[key] = Math.max(/** @type {number} */ (entry.values[key] ?? value), value);
        } else if (!last) {
          // Counters and histograms are cumulative: the last export has the totals.
        } else if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const h = /** @type {import('@opentelemetry/sdk-metrics').Histogram} */ (point.value);
          entry.values[key] = {
            count: h.count,
            sum: round(h.sum ?? 0),
            mean: h.count ? round((h.sum ?? 0) / h.count) : 0,
            max: round(h.max ?? 0),
          };
        } else entry.values[key] = point.value;
      }
    }
  });
  return out;
}
