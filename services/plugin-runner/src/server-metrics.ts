import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEvent, CallObserver, RunnerPool } from './pool.js';

/** What the metrics read from the runner at scrape time. */
export type RunnerView = Pick<RunnerPool, 'loaded' | 'stats' | 'health'>;

/** The error types a call can end with; anything else (which a plugin cannot produce) is "other". */
const ERROR_TYPES = new Set([
  'network',
  'rate-limited',
  'challenge',
  'auth-required',
  'not-found',
  'parse',
  'unsupported',
  'domain-moved',
  'internal',
  'deadline-exceeded',
  'trap',
  'not-loaded',
  'refused',
  'unavailable',
]);

const HEALTH_STATES = ['healthy', 'unhealthy', 'probing'] as const;

/**
 * Prometheus metrics of the server: per-plugin calls, errors by type, latency, HTTP bytes and
 * requests, instance memory and health, plus the process's own (CPU, memory, event loop, GC).
 * Call metrics are counted as calls settle (`callSettled`, the runner's observer); the rest are
 * read from the runner when scraped.
 */
export class ServerMetrics implements CallObserver {
  readonly registry = new Registry();
  private runner: RunnerView | undefined;
  private readonly calls: Counter<'source' | 'op' | 'outcome'>;
  private readonly errors: Counter<'source' | 'op' | 'type'>;
  private readonly duration: Histogram<'source' | 'op'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.calls = new Counter({
      name: 'awasm_plugin_calls_total',
      help: 'Plugin calls, by source, operation and outcome (ok or the error kind).',
      labelNames: ['source', 'op', 'outcome'],
      registers,
    });
    this.errors = new Counter({
      name: 'awasm_plugin_call_errors_total',
      help: "Failed plugin calls by type: the source's typed error (network, not-found, ...) or deadline-exceeded, trap, refused, unavailable.",
      labelNames: ['source', 'op', 'type'],
      registers,
    });
    this.duration = new Histogram({
      name: 'awasm_plugin_call_duration_seconds',
      help: 'Plugin call latency, from the call to its result, queueing included.',
      labelNames: ['source', 'op'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });

    // Totals the runner keeps per loaded source, exported as they are at scrape time.
    const fromStats = (
      name: string,
      help: string,
      read: (s: NonNullable<ReturnType<RunnerView['stats']>>) => number,
    ) => {
      const view = () => this.runner;
      return new Counter({
        name,
        help,
        labelNames: ['source'],
        registers,
        collect() {
          this.reset();
          const runner = view();
          for (const source of runner?.loaded() ?? []) {
            const stats = runner?.stats(source);
            if (stats) this.inc({ source }, read(stats));
          }
        },
      });
    };
    fromStats(
      'awasm_plugin_http_requests_total',
      'Outgoing HTTP requests plugins made that were sent.',
      (s) => s.http.requests,
    );
    fromStats(
      'awasm_plugin_http_denied_total',
      'Outgoing requests refused by the sandbox (host not allowed, private address, bad header).',
      (s) => s.http.denied,
    );
    fromStats(
      'awasm_plugin_http_rate_limited_total',
      "Outgoing requests refused because no rate-limit slot started before the call's deadline.",
      (s) => s.http.rateLimited,
    );
    fromStats(
      'awasm_plugin_http_delayed_total',
      'Outgoing requests that waited for a rate-limit slot (or a Retry-After) before being sent.',
      (s) => s.scheduler.delayed,
    );
    fromStats('awasm_plugin_http_received_bytes_total', 'Response body bytes plugins received.', (s) => s.http.bytesIn);
    fromStats('awasm_plugin_http_sent_bytes_total', 'Request body bytes plugins sent.', (s) => s.http.bytesOut);
    fromStats(
      'awasm_plugin_instances_started_total',
      'Plugin instances started (first start, and replacements after a trap or timeout).',
      (s) => s.instancesStarted,
    );
    fromStats(
      'awasm_plugin_dropped_output_bytes_total',
      'Plugin stdout/stderr/log bytes dropped past the per-call budget.',
      (s) => s.droppedOutputBytes,
    );

    const view = () => this.runner;
    new Gauge({
      name: 'awasm_plugin_instance_memory_bytes',
      help: "Size of a plugin instance's WebAssembly memory after its last call.",
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        const runner = view();
        for (const source of runner?.loaded() ?? []) {
          const stats = runner?.stats(source);
          if (stats) this.set({ source }, stats.memoryBytes);
        }
      },
    });
    new Gauge({
      name: 'awasm_plugin_health',
      help: 'Circuit state of each loaded source: 1 for its current state (healthy, unhealthy or probing), 0 for the others.',
      labelNames: ['source', 'state'],
      registers,
      collect() {
        this.reset();
        const runner = view();
        for (const source of runner?.loaded() ?? []) {
          const health = runner?.health(source);
          if (!health) continue;
          for (const state of HEALTH_STATES) this.set({ source, state }, health.state === state ? 1 : 0);
        }
      },
    });
  }

  /** The runner whose sources are reported. */
  watch(runner: RunnerView): void {
    this.runner = runner;
  }

  callSettled(event: CallEvent): void {
    const labels = { source: event.sourceId, op: event.op };
    this.calls.inc({ ...labels, outcome: event.outcome });
    if (event.errorType !== undefined) {
      this.errors.inc({ ...labels, type: ERROR_TYPES.has(event.errorType) ? event.errorType : 'other' });
    }
    if (event.outcome !== 'unavailable') this.duration.observe(labels, event.durationMs / 1000);
  }

  /** The exposition text and its content type, for GET /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
