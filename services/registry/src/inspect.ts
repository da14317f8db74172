import { checkImports, componentImportNames } from '@awasm/plugin-runner';
import { isCompatibleApiVersion } from '@awasm/shared';

/**
 * What the registry checks in a component before it accepts a package: its imports must be ones
 * the host provides for the source world, minus the interfaces the registry refuses outright, and
 * it must export `awasm:source/source-api` in a version this host is compatible with.
 */
export interface InspectOptions {
  /**
   * Accept `wasi:filesystem/types` and `wasi:filesystem/preopens`. The runner gives every component
   * an empty preopen list, so they reach nothing, but the design says plugins get no filesystem and
   * the registry refuses them by default. componentize-js (the JavaScript toolchain) always imports
   * both, so an operator who takes JavaScript plugins turns this on.
   */
  allowFilesystemImports?: boolean;
}

export interface ComponentReport {
  imports: string[];
  exports: string[];
  /** version of the exported source-api, e.g. "0.1.0" */
  apiVersion: string;
}

export class ComponentRefused extends Error {
  constructor(readonly problems: string[]) {
    super(`component refused: ${problems.join('; ')}`);
    this.name = 'ComponentRefused';
  }
}

const SOURCE_API = 'awasm:source/source-api';
/** Interfaces the runner stubs out for toolchains but a published plugin may not import. */
const REFUSED_PREFIXES = ['wasi:sockets/', 'wasi:cli/environment', 'wasi:cli/exit'];
const FILESYSTEM_PREFIX = 'wasi:filesystem/';

export function inspectComponent(bytes: Uint8Array, options: InspectOptions = {}): ComponentReport {
  let imports: string[];
  let exports: string[];
  try {
    imports = componentImportNames(bytes);
    exports = componentExportNames(bytes);
  } catch (error) {
    throw new ComponentRefused([`not a readable WebAssembly component: ${(error as Error).message}`]);
  }
  const problems: string[] = [];
  for (const name of imports) {
    if (REFUSED_PREFIXES.some((p) => name.startsWith(p))) {
      problems.push(`imports '${name}', which source plugins may not use`);
    } else if (name.startsWith(FILESYSTEM_PREFIX) && !options.allowFilesystemImports) {
      problems.push(
        `imports '${name}': this registry refuses filesystem imports (the operator can allow the inert ones JavaScript toolchains add)`,
      );
    }
  }
  for (const problem of checkImports(imports)) {
    if (!problems.some((p) => p.includes(problem.split("'")[1] ?? '\0'))) problems.push(problem);
  }
  const sourceExports = exports.filter((name) => name === SOURCE_API || name.startsWith(`${SOURCE_API}@`));
  let apiVersion = '';
  if (sourceExports.length === 0) {
    problems.push(`does not export '${SOURCE_API}' (exports: ${exports.join(', ') || 'none'})`);
  } else {
    const name = sourceExports[0] as string;
    apiVersion = name.slice(SOURCE_API.length + 1);
    if (!apiVersion || !isCompatibleApiVersion(apiVersion)) {
      problems.push(`exports '${name}', a version of ${SOURCE_API} this host is not compatible with`);
    }
  }
  if (problems.length > 0) throw new ComponentRefused(problems);
  return { imports, exports, apiVersion };
}

/** Top-level export names of a component, with versions ("awasm:source/source-api@0.1.0"). */
export function componentExportNames(bytes: Uint8Array): string[] {
  const r = new ByteReader(bytes);
  const header = [...bytes.subarray(0, 8)];
  if (header.join(',') !== '0,97,115,109,13,0,1,0') throw new Error('not a WebAssembly component');
  r.pos = 8;
  const names: string[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw new Error(`section at offset ${r.pos} runs past the end`);
    if (id === 11) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const prefix = r.byte();
        if (prefix !== 0x00 && prefix !== 0x01) throw new Error(`export name prefix 0x${prefix.toString(16)}`);
        names.push(r.name());
        if (prefix === 0x01) r.name();
        const sort = r.byte();
        if (sort === 0x00) r.byte(); // core sort
        r.u32(); // index
        if (r.byte() === 0x01) skipExternDesc(r);
      }
    }
    r.pos = end;
  }
  return names;
}

function skipExternDesc(r: ByteReader): void {
  const sort = r.byte();
  if (sort === 0x00) {
    r.byte();
    r.u32();
  } else if (sort === 0x01 || sort === 0x04 || sort === 0x05) {
    r.u32();
  } else if (sort === 0x02 || sort === 0x03) {
    if (r.byte() === 0x00 || sort === 0x02) r.u32();
  } else {
    throw new Error(`extern kind 0x${sort.toString(16)} is not supported`);
  }
}

class ByteReader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error('unexpected end of component');
    return this.bytes[this.pos++] as number;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 28) throw new Error('LEB128 too long');
    }
  }
  name(): string {
    const length = this.u32();
    if (this.pos + length > this.bytes.length) throw new Error('name runs past the end');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return text;
  }
}
