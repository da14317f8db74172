import { PluginCallError, type SourceOp } from '@awasm/runner-api';
import type { WorkerReply } from './source-worker.js';

/** What a worker's reply to a call the caller still waits for means for that caller and the source. */
export type CallOutcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      error: PluginCallError;
      /** the SourceStats counter it adds to, if any */
      counts: 'sourceErrors' | 'traps' | undefined;
      /** the instance trapped (with this message) and may not be entered again */
      trapped: string | undefined;
    };

/**
 * The answer to a call of `op` on source `sourceId` from its worker's `reply`. `rateLimited` is set
 * (seconds to wait) when the host refused one of the call's requests for want of a rate-limit slot.
 */
export function callOutcome(
  sourceId: string,
  op: SourceOp,
  reply: WorkerReply,
  rateLimited: number | undefined,
): CallOutcome {
  const trapped = !reply.ok && reply.error.kind === 'trap' ? reply.error.message : undefined;
  if (rateLimited !== undefined && (reply.ok || reply.error.kind !== 'refused')) {
    // no rate-limit slot started before the deadline: whatever the plugin made of that, the call's
    // answer is the typed rate-limited error
    return {
      ok: false,
      error: new PluginCallError(
        'source-error',
        sourceId,
        `${sourceId}.${op} is rate limited: no request slot before its deadline; retry after ${rateLimited} s`,
        { tag: 'rate-limited', val: rateLimited },
      ),
      counts: 'sourceErrors',
      trapped,
    };
  }
  if (reply.ok) return { ok: true, value: reply.value };
  const { kind, message, sourceError } = reply.error;
  if (kind === 'source-error') {
    return {
      ok: false,
      error: new PluginCallError('source-error', sourceId, `${sourceId}.${op} failed: ${message}`, sourceError),
      counts: 'sourceErrors',
      trapped: undefined,
    };
  }
  if (kind === 'refused') {
    return {
      ok: false,
      error: new PluginCallError('refused', sourceId, message),
      counts: undefined,
      trapped: undefined,
    };
  }
  return {
    ok: false,
    error: new PluginCallError('trap', sourceId, `${sourceId}.${op} trapped: ${message}`),
    counts: 'traps',
    trapped: message,
  };
}
