import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  Health as HealthService,
} from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';

/** What a service can be set to. `SERVICE_UNKNOWN` is only ever sent to watchers of a service nobody set. */
export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/** The name of the server as a whole in the health protocol. */
export const OVERALL = '';

type Listener = (status: HealthCheckResponse_ServingStatus) => void;

/**
 * The serving status of the server ("" = overall) and of each named service, as reported by
 * grpc.health.v1.Health. The server sets it; watchers are told of every change.
 */
export class HealthStatus {
  readonly #statuses = new Map<string, HealthCheckResponse_ServingStatus>();
  readonly #listeners = new Map<string, Set<Listener>>();
  #shutDown = false;

  /** Starts with the overall status set to `overall` and no named services. */
  constructor(overall: ServingStatus = 'SERVING') {
    this.set(OVERALL, overall);
  }

  /**
   * Sets the status of `service` ("" for the server as a whole) and notifies its watchers if it
   * changed. After shutdown() a service can no longer be set SERVING.
   */
  set(service: string, status: ServingStatus): void {
    if (this.#shutDown && status === 'SERVING') return;
    const value =
      status === 'SERVING' ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
    if (this.#statuses.get(service) === value) return;
    this.#statuses.set(service, value);
    for (const listener of this.#listeners.get(service) ?? []) listener(value);
  }

  /**
   * Sets every known service and the overall status to NOT_SERVING for good (used when the server
   * shuts down): open Watch streams send that last status and end, so shutdown is not held up.
   */
  shutdown(): void {
    this.#shutDown = true;
    for (const service of [...this.#statuses.keys()]) this.set(service, 'NOT_SERVING');
    for (const [service, listeners] of this.#listeners) {
      for (const listener of [...listeners]) listener(this.wireStatus(service));
    }
  }

  /** True once shutdown() was called. */
  get isShutDown(): boolean {
    return this.#shutDown;
  }

  /** The status of `service`, or undefined when it was never set. */
  get(service: string): ServingStatus | undefined {
    const value = this.#statuses.get(service);
    if (value === undefined) return undefined;
    return value === HealthCheckResponse_ServingStatus.SERVING ? 'SERVING' : 'NOT_SERVING';
  }

  /** The wire status of `service`: SERVICE_UNKNOWN when it was never set. */
  wireStatus(service: string): HealthCheckResponse_ServingStatus {
    return this.#statuses.get(service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
  }

  /** Every known service (including "") and its status. */
  entries(): Array<[string, ServingStatus]> {
    return [...this.#statuses.keys()].map((s) => [s, this.get(s) as ServingStatus]);
  }

  /** Calls `listener` with each new status of `service`; returns the function that stops it. */
  subscribe(service: string, listener: Listener): () => void {
    let set = this.#listeners.get(service);
    if (!set) {
      set = new Set();
      this.#listeners.set(service, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(service);
    };
  }

  /** How many Watch streams are open (for tests and metrics). */
  watcherCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }
}

function response(status: HealthCheckResponse_ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

/**
 * Streams the status of `service`: the current one at once, then each change, until the call
 * ends (client cancel or deadline) or the server shuts down (after sending NOT_SERVING).
 * Statuses that change faster than the client reads are collapsed to the latest one, as the
 * protocol allows.
 */
async function* watch(health: HealthStatus, service: string, signal: AbortSignal): AsyncGenerator<HealthCheckResponse> {
  if (signal.aborted) return;
  let latest: HealthCheckResponse_ServingStatus | undefined = health.wireStatus(service);
  let wake: (() => void) | undefined;
  const unsubscribe = health.subscribe(service, (status) => {
    latest = status;
    wake?.();
  });
  // Unsubscribe on abort even when the generator is parked at a `yield` that nobody resumes.
  const onAbort = () => {
    unsubscribe();
    wake?.();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    let sent: HealthCheckResponse_ServingStatus | undefined;
    while (!signal.aborted) {
      if (latest !== undefined && latest !== sent) {
        sent = latest;
        latest = undefined;
        yield response(sent);
        continue;
      }
      if (health.isShutDown) return;
      latest = undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}

/** The grpc.health.v1.Health implementation backed by `health`. */
export function healthService(health: HealthStatus): ServiceImpl<typeof HealthService> {
  return {
    check(req: HealthCheckRequest) {
      const status = health.wireStatus(req.service);
      if (status === HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN) {
        throw new ConnectError(`unknown service: ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      return response(status);
    },
    list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [service] of health.entries()) statuses[service] = response(health.wireStatus(service));
      return { statuses };
    },
    watch(req: HealthCheckRequest, context: HandlerContext) {
      return watch(health, req.service, context.signal);
    },
  };
}

/** Registers grpc.health.v1.Health on `router`, backed by `health`. */
export function addHealth(router: ConnectRouter, health: HealthStatus): void {
  router.service(HealthService, healthService(health));
}
