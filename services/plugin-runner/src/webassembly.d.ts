// The parts of the WebAssembly JS API the runner uses. Node has them at runtime, but neither the
// ES lib nor @types/node 20 declares them (only lib.dom does, which this package does not load).
declare namespace WebAssembly {
  interface Module {
    readonly __brand?: 'WebAssembly.Module';
  }
  var Module: {
    prototype: Module;
    new (bytes: ArrayBufferView | ArrayBuffer): Module;
  };
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
  var Memory: {
    prototype: Memory;
    new (descriptor: { initial: number; maximum?: number }): Memory;
  };
  type Imports = Record<string, Record<string, unknown>>;
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
  interface RuntimeError extends Error {}
  var RuntimeError: {
    prototype: RuntimeError;
    new (message?: string): RuntimeError;
  };
}
