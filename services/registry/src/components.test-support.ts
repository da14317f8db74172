import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePackage, generatePublisherKey, type PublisherKeyPair, signPackage } from '@awasm/shared';

const repoWit = fileURLToPath(new URL('../../../wit', import.meta.url));

/**
 * Worlds for test components: each is built by wasm-tools (through jco) from WIT with a dummy core
 * module, which takes milliseconds, unlike a componentize-js build. Their imports and exports are
 * real; their functions trap, which publishing never calls.
 */
const WORLDS = `package awasm:registry-test@0.1.0;

world good {
  import wasi:http/outgoing-handler@0.2.10;
  import awasm:source/host@0.1.0;
  export awasm:source/source-api@0.1.0;
}

world filesystem {
  import wasi:filesystem/preopens@0.2.10;
  import wasi:filesystem/types@0.2.10;
  import awasm:source/host@0.1.0;
  export awasm:source/source-api@0.1.0;
}

world sockets {
  import wasi:sockets/instance-network@0.2.10;
  import wasi:sockets/tcp-create-socket@0.2.10;
  import wasi:sockets/tcp@0.2.10;
  import awasm:source/host@0.1.0;
  export awasm:source/source-api@0.1.0;
}

world no-export {
  import awasm:source/host@0.1.0;
  export wasi:http/incoming-handler@0.2.10;
}
`;

export type TestWorld = 'good' | 'filesystem' | 'sockets' | 'no-export';

let witDir: Promise<string> | undefined;
const built = new Map<TestWorld, Promise<Uint8Array>>();

async function makeWitDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'awasm-registry-wit-'));
  await writeFile(join(dir, 'worlds.wit'), WORLDS);
  await mkdir(join(dir, 'deps', 'awasm-source'), { recursive: true });
  await writeFile(join(dir, 'deps', 'awasm-source', 'source.wit'), await readFile(join(repoWit, 'source.wit')));
  for (const dep of ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets']) {
    await mkdir(join(dir, 'deps', dep), { recursive: true });
    await writeFile(join(dir, 'deps', dep, 'package.wit'), await readFile(join(repoWit, 'deps', dep, 'package.wit')));
  }
  return dir;
}

export function testComponent(world: TestWorld): Promise<Uint8Array> {
  let out = built.get(world);
  if (!out) {
    out = (async () => {
      witDir ??= makeWitDir();
      const dir = await witDir;
      const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
        _setPreopens(preopens: Record<string, string>): void;
      };
      filesystem._setPreopens({ [dir]: dir });
      const { componentEmbed, componentNew } = await import('@bytecodealliance/jco');
      const core = await componentEmbed({ witPath: dir, world, dummy: true });
      return componentNew(core, undefined);
    })();
    built.set(world, out);
  }
  return out;
}

export async function removeTestWit(): Promise<void> {
  if (witDir) await rm(await witDir, { recursive: true, force: true });
}

export function manifestFor(id: string, version: string, extra = ''): string {
  return `id = "${id}"
name = "Test ${id}"
version = "${version}"
api_version = "0.1.0"
description = "A ${id} test plugin"
media_kinds = ["book"]
languages = ["en"]
nsfw = false
allowed_hosts = ["https://${id}.example.org"]
${extra}`;
}

export interface TestPublisher extends PublisherKeyPair {
  pack(id: string, version: string, options?: { world?: TestWorld; extra?: string }): Promise<Uint8Array>;
}

export function testPublisher(): TestPublisher {
  const key = generatePublisherKey();
  return {
    ...key,
    async pack(id, version, options = {}) {
      const component = await testComponent(options.world ?? 'good');
      return signPackage({ manifestToml: manifestFor(id, version, options.extra), component }, key.privateKeyPem);
    },
  };
}

export { encodePackage };
