/**
 * The interfaces the host provides to a source component. Anything else a component imports
 * (sockets, incoming HTTP, a newer or older major version of an interface) is refused at load.
 */

const WASI_0_2 = /^0\.2\.\d+$/;
const AWASM_0_1 = /^0\.1\.\d+$/;

const WASI_PROVIDED = [
  'wasi:cli/environment',
  'wasi:cli/exit',
  'wasi:cli/stdin',
  'wasi:cli/stdout',
  'wasi:cli/stderr',
  'wasi:cli/terminal-input',
  'wasi:cli/terminal-output',
  'wasi:cli/terminal-stdin',
  'wasi:cli/terminal-stdout',
  'wasi:cli/terminal-stderr',
  'wasi:clocks/monotonic-clock',
  'wasi:clocks/wall-clock',
  'wasi:filesystem/types',
  'wasi:filesystem/preopens',
  'wasi:http/types',
  'wasi:http/outgoing-handler',
  'wasi:io/error',
  'wasi:io/poll',
  'wasi:io/streams',
  'wasi:random/random',
  // capability-free seeds that toolchains' standard libraries import (Rust's HashMap keys)
  'wasi:random/insecure',
  'wasi:random/insecure-seed',
];

/** Interface name without version -> the versions the host implements. */
const PROVIDED: ReadonlyMap<string, RegExp> = new Map<string, RegExp>([
  ...WASI_PROVIDED.map((name): [string, RegExp] => [name, WASI_0_2]),
  ['awasm:source/host', AWASM_0_1],
  ['awasm:source/types', AWASM_0_1],
]);

/** Interface names (without version) the host builds an import object for. */
export const providedInterfaces: readonly string[] = [...PROVIDED.keys()];

/** The export a source component must have. */
export const REQUIRED_EXPORT = /^awasm:source\/source-api@0\.1\.\d+$/;

export function splitVersion(name: string): { base: string; version: string | undefined } {
  const at = name.lastIndexOf('@');
  return at <= 0 ? { base: name, version: undefined } : { base: name.slice(0, at), version: name.slice(at + 1) };
}

/** Why the host would refuse this import, or undefined when it provides it. */
export function importProblem(name: string): string | undefined {
  const { base, version } = splitVersion(name);
  const versions = PROVIDED.get(base);
  if (!versions) return `imports '${name}', which the host does not provide`;
  if (version === undefined || !versions.test(version)) {
    return `imports '${name}', a version of ${base} the host does not provide`;
  }
  return undefined;
}

/** The problems with a component's import list, one per refused import. */
export function checkImports(names: readonly string[]): string[] {
  return names.map(importProblem).filter((p): p is string => p !== undefined);
}
