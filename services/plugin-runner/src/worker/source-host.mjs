// @ts-check
/** awasm:source/host, the source world's own import: the source's settings and its log. */

/** @typedef {import('./imports.mjs').WasiHost} WasiHost */

/** @param {WasiHost} host */
export function sourceHostImports(host) {
  return {
    'awasm:source/host': {
      /** @param {string} key */
      getSetting: (key) => host.getSetting(key),
      /** @param {string} level @param {string} message */
      log: (level, message) => host.log(level, message),
    },
    // types only: nothing to provide, but the glue asks for the interface
    'awasm:source/types': {},
  };
}
