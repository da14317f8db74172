import { startEmbeddedServer } from '@awasm/gateway';
import { createLogger, DEFAULT_PORT, encodePackage, loadConfig, parseConnectTo, sha256Hex } from '@awasm/shared';
import type { Output } from './output.js';

export interface ServeFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  config?: string;
  logLevel?: string;
  connectTo?: string;
  demo: boolean;
}

/** The demo plugin's allowed host; the server points it at the fixture site it starts. */
const DEMO_HOST = 'demo-library.awasm.test:80';

interface DemoSite {
  port: number;
  close(): Promise<void>;
}

/** Builds (or takes from cache) the demo component and packs it with its manifest. */
export async function buildDemoPackage(): Promise<Uint8Array> {
  const demo = await import('@awasm/plugin-demo-library');
  const { bytes } = await demo.buildDemoComponent();
  return encodePackage({ manifestToml: await demo.readDemoManifest(), component: bytes });
}

/** Runs `awasm serve` until SIGINT or SIGTERM. */
export async function serve(flags: ServeFlags, output: Output): Promise<void> {
  const overrides: Parameters<typeof loadConfig>[0] = {
    overrides: {
      ...(flags.host === undefined ? {} : { host: flags.host }),
      ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
      ...(flags.logLevel === undefined ? {} : { logLevel: flags.logLevel }),
      ...(flags.connectTo === undefined ? {} : { connectTo: parseConnectTo('--connect-to', flags.connectTo) }),
    },
  };
  if (flags.config !== undefined) overrides.file = flags.config;
  const config = loadConfig(overrides);
  if (flags.port !== undefined) {
    if (!/^\d+$/.test(flags.port) || Number(flags.port) > 65535)
      throw new Error(`--port '${flags.port}' must be 0-65535`);
    config.port = Number(flags.port);
  }
  const logger = createLogger({ level: config.logLevel });

  let site: DemoSite | undefined;
  if (flags.demo) {
    const demo = await import('@awasm/plugin-demo-library');
    site = await demo.startFixtureSite({ host: '127.0.0.1', port: 0 });
    config.connectTo[DEMO_HOST] = `127.0.0.1:${site.port}`;
  }
  const server = await startEmbeddedServer(config, logger);
  const stop = async () => {
    await server.close();
    await site?.close();
  };
  try {
    if (flags.demo) {
      const bytes = await buildDemoPackage();
      const installed = (await server.plugins.list()).find((p) => p.record.id === 'demo-library');
      if (installed?.record.packageSha256 !== sha256Hex(bytes))
        await server.plugins.install(bytes, { allowDowngrade: true });
      if (!(await server.plugins.get('demo-library')).record.enabled)
        await server.plugins.setEnabled('demo-library', true);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const serverFlag = config.port === DEFAULT_PORT && config.host === '127.0.0.1' ? '' : ` --server ${server.url}`;
  output.out(`awasm listening on ${server.url} (data in ${config.dataDir})`);
  if (flags.demo) output.out(`demo site on 127.0.0.1:${site?.port}, demo plugin installed`);
  output.out(flags.demo ? `try: ./awasm${serverFlag} search demo-library alice` : `try: ./awasm${serverFlag} sources`);

  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await stop();
}
