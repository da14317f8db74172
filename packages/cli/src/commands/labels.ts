import { AssetKind, FilterKind, MediaKind, MediaStatus, UnitKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { SettingType } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { HealthState, type SourceHealth } from '@awasm/shared/gen/awasm/v1/source_health_pb.js';
import { truncate } from '../output.js';

/** A protobuf enum value as the lower-case word the tables show ("manga", "ongoing"). */
function enumLabel(value: number, names: object): string {
  return ((names as Record<number, string>)[value] ?? 'UNSPECIFIED').toLowerCase();
}

export const kindName = (k: MediaKind) => enumLabel(k, MediaKind);
export const statusName = (s: MediaStatus) => enumLabel(s, MediaStatus);
export const unitKindName = (k: UnitKind) => enumLabel(k, UnitKind);
export const assetKindName = (k: AssetKind) => enumLabel(k, AssetKind);
export const filterKindName = (k: FilterKind) => enumLabel(k, FilterKind).replace('_', '-');
export const settingTypeName = (t: SettingType) => enumLabel(t, SettingType);

function timestampDate(t: { seconds: bigint; nanos: number }): Date {
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
}

/** A source's circuit state in one cell: "healthy", or "unhealthy: <reason> (retry 12:00:05)". */
export function healthText(health: SourceHealth | undefined): string {
  if (!health || health.state === HealthState.UNSPECIFIED) return '-';
  if (health.state === HealthState.HEALTHY) return 'healthy';
  const retry = health.retryAt ? ` (retry ${timestampDate(health.retryAt).toISOString().slice(11, 19)})` : '';
  const state = health.state === HealthState.PROBING ? 'probing' : 'unhealthy';
  return `${state}: ${truncate(health.reason, 60)}${retry}`;
}
