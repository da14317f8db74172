// @ts-check
/** What every wasi package module of the worker shares: resource construction and traps. */

export const symbolDispose = Symbol.dispose || Symbol.for('dispose');

/** Marks internal construction of resources whose WIT type has no constructor. */
export const INTERNAL = Symbol('awasm.internal');

/**
 * An error that ends the instance (the glue lets it through as a trap), for what a guest must never do.
 * @param {string} message
 */
export function trap(message) {
  return new WebAssembly.RuntimeError(message);
}
