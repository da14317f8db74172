/** A loaded source's health as its circuit breaker reports it (SourceRunner.health). */

export type HealthState = 'healthy' | 'unhealthy' | 'probing';

export interface SourceHealth {
  state: HealthState;
  /** why it is unhealthy (the last failure and how many in a row); empty when healthy */
  reason: string;
  /** when it entered this state (epoch ms) */
  since: number;
  /** failures in a row, counted while healthy; reset by a success */
  consecutiveFailures: number;
  /** when an unhealthy source gets its next probe (epoch ms) */
  retryAt?: number;
}
