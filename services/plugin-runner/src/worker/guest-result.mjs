// @ts-check
/**
 * What a guest's call may hand back to the host: a result under a size the main thread can hold,
 * a source error whose text fits a status line, or else a trap that says why.
 */

/**
 * Largest result passed to the host, as sizeOver counts it: every result is copied into the host's
 * main thread, where many instances' results meet, so one plugin's page of a million entries must
 * not get there. A real page of media, units or assets is a few hundred kB at most.
 */
export const MAX_RESULT_BYTES = 16 * 1024 * 1024;
/**
 * What sizeOver counts for every value besides its own bytes: each string, number, list element and
 * record field is a slot and often an object in the worker, in the structured clone, on the main
 * thread and in the protobuf message, whatever its length, so empty strings are not free.
 */
const VALUE_OVERHEAD = 32;
/** Longest string in a source error's payload (UTF-16 units); a longer message is cut, with a marker. */
export const MAX_ERROR_TEXT = 1024;
/**
 * Whether `value` is over `max` bytes, counted as the host will hold it (a string by its length, a
 * byte list by its bytes, and VALUE_OVERHEAD for every value, element and field); stops as soon as it is.
 * @param {unknown} value
 * @param {number} max
 */
function sizeOver(value, max) {
  let size = 0;
  /** @type {unknown[]} */
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    size += VALUE_OVERHEAD;
    if (typeof v === 'string') size += v.length;
    else if (v instanceof Uint8Array) size += v.byteLength;
    else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        size += key.length;
        stack.push(item);
      }
    }
    if (size > max) return true;
  }
  return false;
}

/**
 * A source error's payload with its text cut to MAX_ERROR_TEXT: the message travels in a status
 * line and its details (gRPC metadata), where a long one breaks clients. A cut URL would be a wrong
 * one, so a URL payload (challenge, domain-moved) over the cap is refused instead (undefined).
 * @param {{ tag: string, val?: unknown }} payload
 */
function boundedSourceError(payload) {
  if (typeof payload.val !== 'string' || payload.val.length <= MAX_ERROR_TEXT) return payload;
  if (payload.tag === 'challenge' || payload.tag === 'domain-moved') return undefined;
  const cut = `${payload.val.slice(0, MAX_ERROR_TEXT)}… (cut at ${MAX_ERROR_TEXT} characters by the host)`;
  return { tag: payload.tag, val: cut };
}

/** A thrown value as a message for the runner. @param {unknown} err */
export function describe(err) {
  // V8 names a trap by its bare cause ("unreachable"); say that it is the wasm instruction
  if (err instanceof WebAssembly.RuntimeError && err.message === 'unreachable') {
    return 'wasm `unreachable` instruction executed';
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** @param {unknown} payload @returns {payload is { tag: string, val?: unknown }} */
function isVariant(payload) {
  return typeof payload === 'object' && payload !== null && typeof (/** @type {any} */ (payload).tag) === 'string';
}

/**
 * What calling `op` on the guest's API came to, before the accounting every reply carries: its
 * value if it is small enough, its source error with the text bounded, or a trap.
 * @param {Record<string, (...args: unknown[]) => unknown>} api
 * @param {string} op @param {unknown[]} args
 * @param {() => string | undefined} exitReason why the guest ended itself during the call (exit), if it did
 * @returns {{ ok: true, value: unknown } | { ok: false, error: import('./messages.mjs').CallError }}
 */
export function guestResult(api, op, args, exitReason) {
  const fn = api[op];
  if (typeof fn !== 'function') return { ok: false, error: { kind: 'refused', message: `unknown operation ${op}` } };
  try {
    const value = fn.apply(api, args);
    if (sizeOver(value, MAX_RESULT_BYTES)) {
      return {
        ok: false,
        error: { kind: 'trap', message: `the plugin returned a result of more than ${MAX_RESULT_BYTES} bytes` },
      };
    }
    return { ok: true, value };
  } catch (err) {
    const payload = /** @type {any} */ (err)?.payload;
    const exited = exitReason();
    if (exited) return { ok: false, error: { kind: 'trap', message: exited } };
    if (!(err && typeof err === 'object' && 'payload' in err && isVariant(payload))) {
      return { ok: false, error: { kind: 'trap', message: describe(err) } };
    }
    const bounded = boundedSourceError(payload);
    if (!bounded) {
      return {
        ok: false,
        error: {
          kind: 'trap',
          message: `the plugin returned a ${payload.tag} error with a URL of more than ${MAX_ERROR_TEXT} characters`,
        },
      };
    }
    return { ok: false, error: { kind: 'source-error', message: String(bounded.tag), sourceError: bounded } };
  }
}
