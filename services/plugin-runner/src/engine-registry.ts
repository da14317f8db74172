/** A shared engine compiled once for every source whose split core module uses it. */
export interface CompiledEngine {
  module: WebAssembly.Module;
  /** tables it defines */
  tables: number;
}

/** One engine in the registry and how many compiled components use it. */
export interface HeldEngine {
  readonly digest: string;
  readonly compiled: Promise<CompiledEngine>;
  users: number;
}

/** Compiles the engine `digest`, first needed by the core module `name`. */
export type CompileEngineFn = (name: string, digest: string) => Promise<CompiledEngine>;

/**
 * The shared engines (engine-split.ts) compiled in this runner, by digest: compiled on first use,
 * kept while a compiled component uses them, let go with their last user. An engine that fails to
 * compile leaves the registry at once, so the next use compiles it again.
 */
export class EngineRegistry {
  private readonly engines = new Map<string, HeldEngine>();

  constructor(private readonly compile: CompileEngineFn) {}

  /** The engine `digest` (compiling it if no component uses it yet), counted as one more use. */
  take(name: string, digest: string): HeldEngine {
    let held = this.engines.get(digest);
    if (!held) {
      const entry: HeldEngine = { digest, compiled: this.compile(name, digest), users: 0 };
      held = entry;
      this.engines.set(digest, entry);
      entry.compiled.catch(() => {
        if (this.engines.get(digest) === entry) this.engines.delete(digest);
      });
    }
    held.users++;
    return held;
  }

  /** One use of `held` fewer; the last one lets it go (an engine that failed is already gone). */
  drop(held: HeldEngine): void {
    held.users--;
    if (held.users <= 0 && this.engines.get(held.digest) === held) this.engines.delete(held.digest);
  }

  /** Engines compiled or compiling now. */
  get size(): number {
    return this.engines.size;
  }
}
