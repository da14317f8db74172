import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildJsComponent } from '@awasm/plugin-sdk';

/** The plugin's JavaScript source, bundled into the component by componentize-js. */
export const demoPluginSourcePath = fileURLToPath(new URL('../src/plugin.js', import.meta.url));
/** The plugin's manifest, which ships beside the component. */
export const demoManifestPath = fileURLToPath(new URL('../manifest.toml', import.meta.url));
/** Where `build:plugin` and buildDemoComponent() leave the component. */
export const demoComponentPath = fileURLToPath(new URL('../dist/demo-library.wasm', import.meta.url));

/** The manifest's text, as it ships with the package. */
export function readDemoManifest(): Promise<string> {
  return readFile(demoManifestPath, 'utf8');
}

/**
 * Builds the demo plugin into a WebAssembly component (cached by source hash, so only the first
 * build after a change takes seconds) and writes it to dist/demo-library.wasm.
 */
export async function buildDemoComponent(): Promise<{ bytes: Uint8Array; path: string }> {
  const { bytes } = await buildJsComponent({ sourcePath: demoPluginSourcePath });
  let current: Buffer | undefined;
  try {
    current = await readFile(demoComponentPath);
  } catch {
    current = undefined;
  }
  if (!current?.equals(bytes)) {
    await mkdir(dirname(demoComponentPath), { recursive: true });
    const tmp = `${demoComponentPath}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, demoComponentPath);
  }
  return { bytes, path: demoComponentPath };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const { bytes, path } = await buildDemoComponent();
  console.log(
    `built ${path} (${(bytes.length / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}
