import { PluginLoadError } from '@awasm/runner-api';
import { EngineRegistry, type HeldEngine } from './engine-registry.js';
import { checkImports, providedInterfaces, REQUIRED_EXPORT } from './import-policy.js';
import type { SourceSpec } from './source-spec.js';
import type { CoreModules, EngineCoreModule } from './source-worker.js';
import {
  DigestMismatchError,
  EngineDamagedError,
  type TranspileCache,
  type TranspiledComponent,
} from './transpile-cache.js';
import {
  capLimits,
  componentImportNames,
  MemoryLimitError,
  memoryLimitMessage,
  pagesForMiB,
  TableLimitError,
  WasmFormatError,
} from './wasm-binary.js';

/**
 * Tables the core modules of one component may define in all (each capped at maxTableEntries); a
 * component built by componentize-js defines 3, a C one 3. Together with one memory per component,
 * this keeps a component of many core modules from multiplying the caps that hold for one.
 */
export const MAX_TABLES_PER_COMPONENT = 32;

/** What each core module of a component defines (not imports), by module name. */
type ComponentCensus = Map<string, { memories: number; tables: number }>;

/** Core modules up to this size are compiled on the calling thread, at once. */
const SYNC_COMPILE_MAX = 256 * 1024;

function compileCapped(capped: Uint8Array): Promise<WebAssembly.Module> {
  // V8's background compile of a small module can wait for a thread while a worker is booting,
  // where compiling it here takes far less
  if (capped.length <= SYNC_COMPILE_MAX) {
    try {
      return Promise.resolve(new WebAssembly.Module(capped));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return WebAssembly.compile(capped);
}

/**
 * Refuses a component whose core modules define more than one memory (memory_mb caps each memory,
 * so a second one would double what an instance may take) or more than MAX_TABLES_PER_COMPONENT
 * tables, naming the modules.
 */
function checkCensus(id: string, census: ComponentCensus): void {
  const withMemory = [...census].filter(([, c]) => c.memories > 0);
  const memories = withMemory.reduce((n, [, c]) => n + c.memories, 0);
  if (memories > 1) {
    throw new PluginLoadError(
      id,
      `refused: the component's core modules define ${memories} memories (${withMemory.map(([name, c]) => `${name}: ${c.memories}`).join(', ')}); a component may define one, which limits.memoryMb caps`,
    );
  }
  const tables = [...census.values()].reduce((n, c) => n + c.tables, 0);
  if (tables > MAX_TABLES_PER_COMPONENT) {
    throw new PluginLoadError(
      id,
      `refused: the component's core modules define ${tables} tables, over the ${MAX_TABLES_PER_COMPONENT} a component may have`,
    );
  }
}

/** Why a core module is refused, without the source's name (an engine is shared by sources). */
class ModuleRefusal extends Error {}

/** The compiled core modules of one component at one memory cap, shared by the sources loading it. */
export interface CompiledComponent {
  readonly modules: CoreModules;
  /** sources running on it (see ComponentCompiler.retain and release) */
  users: number;
  /** the shared engines its split modules use */
  readonly engines: HeldEngine[];
}

/** A component transpiled (or read from the cache) and checked, ready to compile. */
export interface TranspiledSource {
  entry: TranspiledComponent;
  /** the transpiled component came from the on-disk cache */
  hit: boolean;
  /**
   * Its core modules, capped and compiled once per digest and memory cap for all the sources
   * that load it (a component compiled while the cache was read is not compiled again).
   */
  compile(): Promise<CompiledComponent>;
}

/**
 * Turns a component's bytes into compiled core modules: refuses imports the host does not
 * provide, transpiles once per digest (TranspileCache), caps every module's memories and tables,
 * refuses a component over one memory or MAX_TABLES_PER_COMPONENT tables, and compiles, keeping
 * compiled components and shared engines while a source uses them.
 */
export class ComponentCompiler {
  /** by `${digest}:${memoryMb}` */
  private readonly compiled = new Map<string, Promise<CompiledComponent>>();
  private readonly engines: EngineRegistry;

  constructor(
    private readonly cache: TranspileCache,
    private readonly maxTableEntries: number,
  ) {
    this.engines = new EngineRegistry((name, digest) =>
      this.cache.engineBytes(digest).then((bytes) => {
        // its memory is imported without a maximum: the worker makes it, capped per source
        const { capped, defines } = this.capModule(name, bytes, undefined);
        return compileCapped(capped).then((module) => ({ module, tables: defines.tables }));
      }),
    );
  }

  /** Refuses bytes that are not a component, or a component importing what the host never provides. */
  checkImports(id: string, component: Uint8Array): void {
    let importNames: string[];
    try {
      importNames = componentImportNames(component);
    } catch (err) {
      if (err instanceof WasmFormatError) throw new PluginLoadError(id, `not a WebAssembly component: ${err.message}`);
      throw err;
    }
    const problems = checkImports(importNames);
    if (problems.length > 0) throw new PluginLoadError(id, `refused: the component ${problems.join('; ')}`);
  }

  /**
   * Transpiles the component (or reads it from the cache) and checks what the transpiled glue
   * imports and exports. A component not compiled yet is compiled while the cache checks its
   * files (see PrepareFn).
   */
  async transpile(spec: SourceSpec): Promise<TranspiledSource> {
    const { id } = spec;
    const { memoryMb } = spec.limits;
    const key = componentKey(spec);
    const census: ComponentCensus = new Map();
    const prepare = this.compiled.has(key)
      ? undefined
      : (name: string, bytes: Uint8Array) => this.compileModule(id, name, bytes, memoryMb, census);
    let entry: TranspiledComponent;
    let hit: boolean;
    let prepared: Map<string, WebAssembly.Module> | undefined;
    try {
      ({ entry, hit, prepared } = await this.cache.get(spec.digest, spec.component, prepare));
    } catch (err) {
      if (err instanceof DigestMismatchError || err instanceof PluginLoadError) {
        throw err instanceof PluginLoadError ? err : new PluginLoadError(id, err.message);
      }
      throw new PluginLoadError(id, `the component could not be transpiled: ${(err as Error).message}`, { cause: err });
    }
    const provided = new Set(providedInterfaces);
    const missing = entry.imports.filter((name) => !provided.has(name));
    if (missing.length > 0) {
      throw new PluginLoadError(
        id,
        `refused: the component imports ${missing.join(', ')}, which the host does not provide`,
      );
    }
    if (!entry.exports.some((name) => REQUIRED_EXPORT.test(name))) {
      throw new PluginLoadError(id, 'the component does not export awasm:source/source-api@0.1.x');
    }
    return { entry, hit, compile: () => this.compiledFor(id, key, entry, memoryMb, census, prepared) };
  }

  private compiledFor(
    id: string,
    key: string,
    entry: TranspiledComponent,
    memoryMb: number,
    census: ComponentCensus,
    prepared: Map<string, WebAssembly.Module> | undefined,
  ): Promise<CompiledComponent> {
    const existing = this.compiled.get(key);
    if (existing) return existing;
    const split = this.splitModules(id, entry, memoryMb, census);
    const compiled = Promise.all([
      prepared ? Promise.resolve(Object.fromEntries(prepared)) : this.compileAll(id, entry, memoryMb, census),
      split,
    ]).then(([whole, engines]): CompiledComponent => {
      checkCensus(id, census);
      return { modules: { ...whole, ...engines.modules }, users: 0, engines: engines.held };
    });
    // the engines taken are given back when the component fails to compile or its last user goes
    compiled.catch(() => {
      this.compiled.delete(key);
      void split.then(
        (e) => {
          for (const held of e.held) this.engines.drop(held);
        },
        () => {},
      );
    });
    this.compiled.set(key, compiled);
    return compiled;
  }

  /** One more source runs on `compiled`. */
  retain(compiled: CompiledComponent): void {
    compiled.users++;
  }

  /** A source that retained `compiled` failed to start; the component stays compiled for the next load. */
  unretain(compiled: CompiledComponent): void {
    compiled.users--;
  }

  /** A source loaded from `spec` is gone: its component's last user lets it and its engines go. */
  release(spec: SourceSpec): void {
    const key = componentKey(spec);
    const compiled = this.compiled.get(key);
    void compiled?.then((c) => {
      c.users--;
      if (c.users <= 0 && this.compiled.get(key) === compiled) {
        this.compiled.delete(key);
        for (const held of c.engines) this.engines.drop(held);
      }
    });
  }

  /** Removes the cached transpilation of `digest`, so the next load transpiles it again. */
  forget(digest: string): Promise<void> {
    return this.cache.forget(digest);
  }

  /** Shared engines compiled in this runner. */
  get enginesCompiled(): number {
    return this.engines.size;
  }

  private async compileAll(
    id: string,
    entry: TranspiledComponent,
    memoryMb: number,
    census: ComponentCensus,
  ): Promise<Record<string, WebAssembly.Module>> {
    const modules: Record<string, WebAssembly.Module> = {};
    for (const [name, bytes] of entry.coreModules) {
      modules[name] = await this.compileModule(id, name, bytes, memoryMb, census);
    }
    return modules;
  }

  /** Caps the module's memories and tables, then compiles it; what it defines goes in `census`. */
  private compileModule(
    id: string,
    name: string,
    bytes: Uint8Array,
    memoryMb: number,
    census: ComponentCensus,
  ): Promise<WebAssembly.Module> {
    try {
      const { capped, defines } = this.capModule(name, bytes, memoryMb);
      census.set(name, defines);
      return compileCapped(capped);
    } catch (err) {
      if (err instanceof ModuleRefusal) return Promise.reject(new PluginLoadError(id, err.message));
      return Promise.reject(err);
    }
  }

  /**
   * A core module with its memories (unless `memoryMb` is undefined) and tables capped, and what it
   * defines. Throws a ModuleRefusal saying why a module is refused.
   */
  private capModule(
    name: string,
    bytes: Uint8Array,
    memoryMb: number | undefined,
  ): { capped: Uint8Array; defines: { memories: number; tables: number } } {
    try {
      const result = capLimits(bytes, {
        ...(memoryMb !== undefined ? { maxMemoryPages: pagesForMiB(memoryMb) } : {}),
        maxTableEntries: this.maxTableEntries,
      });
      return {
        capped: result.bytes,
        defines: {
          memories: result.memories.filter((m) => m.importedFrom === undefined).length,
          tables: result.tables.filter((t) => t.importedFrom === undefined).length,
        },
      };
    } catch (err) {
      if (err instanceof MemoryLimitError) {
        throw new ModuleRefusal(`refused: ${name}: ${err.message} (limits.memoryMb is ${memoryMb})`);
      }
      if (err instanceof TableLimitError) {
        throw new ModuleRefusal(
          `refused: ${name}: ${err.message}${err.reason === 'entries' ? ' (maxTableEntries)' : ''}`,
        );
      }
      throw new ModuleRefusal(`core module ${name} could not be read: ${(err as Error).message}`);
    }
  }

  /**
   * The split core modules of a component (TranspiledComponent.splitModules) with their engines,
   * each compiled once for all the sources that use it, and the engines, taken (given back on
   * failure, or by release). The memory the worker makes for one is capped by this source's memoryMb.
   */
  private async splitModules(
    id: string,
    entry: TranspiledComponent,
    memoryMb: number,
    census: ComponentCensus,
  ): Promise<{ modules: Record<string, EngineCoreModule>; held: HeldEngine[] }> {
    const limit = pagesForMiB(memoryMb);
    const split = [...entry.splitModules];
    for (const [name, s] of split) {
      if (s.initialPages > limit) {
        throw new PluginLoadError(
          id,
          `refused: ${name}: ${memoryLimitMessage('memory 0', s.initialPages, limit)} (limits.memoryMb is ${memoryMb})`,
        );
      }
    }
    // taken before the first await, so a failure below gives back exactly these
    const held = split.map(([name, s]) => this.engines.take(name, s.engineDigest));
    const modules: Record<string, EngineCoreModule> = {};
    try {
      for (const [i, [name, s]] of split.entries()) {
        const { module, tables } = await (held[i] as HeldEngine).compiled;
        census.set(name, { memories: 1, tables });
        // on shared memory, so the instances of a source do not each get a copy
        const data = new Uint8Array(new SharedArrayBuffer(s.data.length));
        data.set(s.data);
        modules[name] = {
          engine: module,
          initialPages: s.initialPages,
          maximumPages: Math.min(s.maximumPages ?? limit, limit),
          data,
        };
      }
    } catch (err) {
      for (const h of held) this.engines.drop(h);
      if (err instanceof ModuleRefusal) throw new PluginLoadError(id, err.message);
      if (err instanceof EngineDamagedError) throw new PluginLoadError(id, err.message, { cause: err });
      throw err;
    }
    return { modules, held };
  }
}

/** Compiled components are shared by digest and memory cap: the cap is written into the modules. */
function componentKey(spec: SourceSpec): string {
  return `${spec.digest}:${spec.limits.memoryMb}`;
}
