// @ts-check
/**
 * The core modules of one component as the worker instantiates them for jco's glue: a whole module
 * as it is, a split one (engine-split.ts) as its engine on a memory of the module's limits with its
 * data segments written in. Every memory is kept, so each reply can say how big the instance is.
 */

import { applySegments, ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE } from './engine-data.mjs';

/** @typedef {import('./messages.mjs').EngineCoreModule} EngineCoreModule */
/** @typedef {import('./messages.mjs').CoreModules} CoreModules */

export class CoreInstances {
  /** The instance's wasm memories. @type {WebAssembly.Memory[]} */
  #memories = [];
  /** Split core modules handed to the glue, by their engine. @type {Map<WebAssembly.Module, EngineCoreModule>} */
  #engines = new Map();
  /** @type {CoreModules} */ #modules;

  /** @param {CoreModules} modules */
  constructor(modules) {
    this.#modules = modules;
  }

  /**
   * The glue's getCoreModule: the module the glue asks for by name (a split one by its engine,
   * which instantiate() knows it by; the cache splits one module per engine).
   * @param {string} name
   */
  module(name) {
    const m = this.#modules[name];
    if (!m) throw new Error(`the component asked for an unknown core module ${name}`);
    if (m instanceof WebAssembly.Module) return m;
    const other = this.#engines.get(m.engine);
    if (other && other !== m) throw new Error(`core module ${name} shares its engine with another module`);
    this.#engines.set(m.engine, m);
    return m.engine;
  }

  /**
   * The glue's instantiateCore.
   * @param {WebAssembly.Module} module
   * @param {WebAssembly.Imports} [imports]
   */
  async instantiate(module, imports) {
    const engine = this.#engines.get(module);
    if (!engine) {
      const instance = await WebAssembly.instantiate(module, imports);
      for (const value of Object.values(instance.exports)) {
        if (value instanceof WebAssembly.Memory) this.#memories.push(value);
      }
      return instance;
    }
    // what instantiating the whole module did: a memory of its initial size with its data segments
    // written in, before anything of it runs (a split module has no start function)
    const memory = new WebAssembly.Memory({ initial: engine.initialPages, maximum: engine.maximumPages });
    const instance = await WebAssembly.instantiate(module, {
      ...imports,
      [ENGINE_MEMORY_MODULE]: { [ENGINE_MEMORY_FIELD]: memory },
    });
    applySegments(memory.buffer, engine.data);
    this.#memories.push(memory);
    return instance;
  }

  /** Bytes of all the instance's memories now. */
  memoryBytes() {
    let total = 0;
    for (const memory of this.#memories) total += memory.buffer.byteLength;
    return total;
  }
}
