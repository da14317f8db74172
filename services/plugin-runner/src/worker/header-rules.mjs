// @ts-check
/**
 * The one list of request header names that belong to the host, shared by the wasi:http fields the
 * guest fills in (worker thread) and the request policy that sends them (main thread).
 *
 * - `refused`: setting one fails at once with the wasi:http `forbidden` error; they name the
 *   connection or its framing, which the host alone decides.
 * - `dropped`: a guest may set them (common HTTP clients always do), and the host drops the value
 *   before sending: it writes Host and Content-Length itself and sends no Expect, TE or trailers.
 *
 * Plain ES module so the worker loads it unchanged from src/ and dist/.
 */

/** @typedef {'refused' | 'dropped'} HeaderRule */

/** Lowercase header name -> what happens to a guest's value for it. */
export const HOST_OWNED_HEADERS = Object.freeze(
  /** @type {Record<string, HeaderRule>} */ ({
    host: 'refused',
    connection: 'refused',
    'keep-alive': 'refused',
    'proxy-connection': 'refused',
    'transfer-encoding': 'refused',
    upgrade: 'refused',
    'http2-settings': 'refused',
    'content-length': 'dropped',
    te: 'dropped',
    trailer: 'dropped',
    expect: 'dropped',
  }),
);

// looked up per header of every request: sets of the names, made once from the list
const REFUSED = new Set(Object.keys(HOST_OWNED_HEADERS).filter((name) => HOST_OWNED_HEADERS[name] === 'refused'));
const OWNED = new Set(Object.keys(HOST_OWNED_HEADERS));

/** Whether a guest's fields may not hold `name` at all. @param {string} name */
export function isRefusedHeader(name) {
  return REFUSED.has(name.toLowerCase());
}

/** Whether the host sends its own value, or none, instead of the guest's. @param {string} name */
export function isHostOwnedHeader(name) {
  return OWNED.has(name.toLowerCase());
}

/** An HTTP token (RFC 9110): what a header name and a method must be. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
