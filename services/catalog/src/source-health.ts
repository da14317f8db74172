import type { SourceHealth as RunnerHealth } from '@awasm/runner-api';
import { HealthState, type SourceHealth, SourceHealthSchema } from '@awasm/shared/gen/awasm/v1/source_health_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';

/** How the API learns a loaded source's health (SourceRunner.health); undefined when not loaded. */
export type HealthLookup = (sourceId: string) => Promise<RunnerHealth | undefined>;

const STATES: Record<RunnerHealth['state'], HealthState> = {
  healthy: HealthState.HEALTHY,
  unhealthy: HealthState.UNHEALTHY,
  probing: HealthState.PROBING,
};

/** The runner's view of a source's health as the API's awasm.v1.SourceHealth. */
export function toSourceHealth(health: RunnerHealth | undefined): SourceHealth | undefined {
  if (!health) return undefined;
  return create(SourceHealthSchema, {
    state: STATES[health.state],
    reason: health.reason,
    since: timestampFromMs(health.since),
    consecutiveFailures: health.consecutiveFailures,
    ...(health.retryAt === undefined ? {} : { retryAt: timestampFromMs(health.retryAt) }),
  });
}
