import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';
import { buildJsComponent } from '@awasm/plugin-sdk';
import { encodePackage, sha256Hex } from '@awasm/shared';
import { afterAll } from 'vitest';
import { sourceRunnerContract } from '../../packages/runner-api/src/source-runner.contract.js';

// The SourceRunner contract against the in-process implementation: LocalSourceRunner over a
// RunnerPool, reading packages from a package store in memory.

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const pluginDir = join(repoRoot, 'test/runner/plugins/contract');
// one transpile cache for every runner the suite opens: the component is transpiled once
const cacheDir = mkdtemp(join(tmpdir(), 'awasm-source-runner-'));

let built: Promise<{ contract: Uint8Array; other: Uint8Array }> | undefined;
function packages() {
  built ??= (async () => {
    const { bytes: component } = await buildJsComponent({ sourcePath: join(pluginDir, 'index.js') });
    const manifestToml = await readFile(join(pluginDir, 'manifest.toml'), 'utf8');
    return {
      contract: encodePackage({ manifestToml, component }),
      other: encodePackage({ manifestToml: manifestToml.replace(/^id = .*$/m, 'id = "other-source"'), component }),
    };
  })();
  return built;
}

sourceRunnerContract(
  'LocalSourceRunner',
  async () => {
    const pool = new RunnerPool({ cacheDir: await cacheDir });
    const store = new Map<string, Uint8Array>();
    const runner = new LocalSourceRunner(pool, { get: async (digest) => store.get(digest) });
    return {
      runner,
      async publish(packageFile) {
        const digest = sha256Hex(packageFile);
        store.set(digest, packageFile);
        return digest;
      },
      close: () => pool.close(),
    };
  },
  packages,
);

afterAll(async () => {
  await rm(await cacheDir, { recursive: true, force: true });
});
