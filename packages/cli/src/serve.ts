import { compareVersions } from '@awasm/catalog';
import { startEmbeddedServer } from '@awasm/embedded';
import {
  ConfigError,
  createLogger,
  credentialsPath,
  DEFAULT_PORT,
  encodePackage,
  loadConfig,
  parseConnectTo,
  parseManifest,
  saveCredentials,
} from '@awasm/shared';
import { DEFAULT_SERVER } from './client.js';
import type { Output } from './output.js';
import { UsageError } from './usage.js';

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

/** Flags, config file and environment as one config; a bad value is bad usage (exit 2), naming the key. */
function configFrom(flags: ServeFlags): ReturnType<typeof loadConfig> {
  try {
    return readConfig(flags);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) {
      throw new UsageError(error.message, { cause: error });
    }
    throw error;
  }
}

function readConfig(flags: ServeFlags): ReturnType<typeof loadConfig> {
  const overrides: Parameters<typeof loadConfig>[0] = {
    overrides: {
      ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
      ...(flags.logLevel === undefined ? {} : { logLevel: flags.logLevel }),
      ...(flags.host === undefined ? {} : { gateway: { host: flags.host } }),
      ...(flags.connectTo === undefined
        ? {}
        : { runner: { connectTo: parseConnectTo('--connect-to', flags.connectTo) } }),
    },
  };
  if (flags.config !== undefined) overrides.file = flags.config;
  const config = loadConfig(overrides);
  if (flags.port !== undefined) {
    if (!/^\d+$/.test(flags.port) || Number(flags.port) > 65535)
      throw new UsageError(`--port '${flags.port}' must be 0-65535`);
    config.gateway.port = Number(flags.port);
  }
  if (flags.logLevel !== undefined) {
    // the flag reaches the config as an override, unchecked: pino's own check is the list of levels
    try {
      createLogger({ level: flags.logLevel });
    } catch {
      throw new UsageError(`--log-level '${flags.logLevel}' must be fatal, error, warn, info, debug, trace or silent`);
    }
  }
  return config;
}

/**
 * Installs the demo plugin only when it is missing or older than the checkout's: a demo plugin the
 * user updated (a newer version) is never downgraded. Says what it does, since a first build takes a while.
 */
async function installDemoPlugin(server: Awaited<ReturnType<typeof startEmbeddedServer>>, output: Output) {
  const demo = await import('@awasm/plugin-demo-library');
  const bundled = parseManifest(await demo.readDemoManifest());
  const installed = (await server.plugins.list()).find((p) => p.record.id === bundled.id);
  const order = installed ? compareVersions(installed.record.version, bundled.version) : -1;
  if (installed && order >= 0) {
    if (order > 0) {
      output.err(
        `demo plugin ${installed.record.version} is installed, newer than the bundled ${bundled.version}: kept`,
      );
    }
  } else {
    output.err('building the demo plugin (first run ~10 s, cached after)...');
    const bytes = await buildDemoPackage();
    output.err(installed ? `updating the demo plugin to ${bundled.version}...` : 'installing the demo plugin...');
    await server.plugins.install(bytes);
  }
  if (!(await server.plugins.get(bundled.id)).record.enabled) await server.plugins.setEnabled(bundled.id, true);
}

/** Addresses a client on this machine reaches the server through when it listens on them. */
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::']);

/**
 * The server URLs the CLI on this machine will use for this server: the one it serves, and the
 * CLI's default as well when the server listens on the default port of a loopback (or every)
 * address, so `awasm sources` with no --server finds its key too.
 */
export function credentialUrls(url: string, host: string, port: number): string[] {
  const local = LOCAL_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
  return local && port === DEFAULT_PORT && url !== DEFAULT_SERVER ? [url, DEFAULT_SERVER] : [url];
}

/**
 * On the first run the server made the `admin` user: its key goes into the CLI's credentials file
 * (before the server says it listens, so a client reading the file then finds it). Returns the
 * line to print this once, with where the key was saved or why it could not be.
 */
function saveAdminKey(key: string, urls: string[]): string {
  const path = credentialsPath();
  let saved: string;
  try {
    saveCredentials(urls, { key, user: 'admin' });
    saved = `saved in ${path} for ${urls.join(' and ')}`;
  } catch (error) {
    saved = `could not save it in ${path} (${(error as Error).message}): pass it with --api-key or AWASM_API_KEY`;
  }
  return `first run: created the user admin with API key ${key} (shown only now; ${saved})`;
}

/** Runs `awasm serve` until SIGINT or SIGTERM. */
export async function serve(flags: ServeFlags, output: Output): Promise<void> {
  const config = configFrom(flags);
  const logger = createLogger({ level: config.logLevel });

  let site: DemoSite | undefined;
  if (flags.demo) {
    output.err('starting the demo site and the server...');
    const demo = await import('@awasm/plugin-demo-library');
    site = await demo.startFixtureSite({ host: '127.0.0.1', port: 0 });
    config.runner.connectTo[DEMO_HOST] = `127.0.0.1:${site.port}`;
  }
  const server = await startEmbeddedServer(config, logger);
  const stop = async () => {
    await server.close();
    await site?.close();
  };
  try {
    if (flags.demo) await installDemoPlugin(server, output);
  } catch (error) {
    await stop();
    throw error;
  }

  const { host, port } = config.gateway;
  const firstRun = server.adminKey && saveAdminKey(server.adminKey, credentialUrls(server.url, host, server.port));
  const serverFlag = port === DEFAULT_PORT && host === '127.0.0.1' ? '' : ` --server ${server.url}`;
  output.out(`awasm listening on ${server.url} (data in ${config.dataDir})`);
  if (flags.demo) output.out(`demo site on 127.0.0.1:${site?.port}, demo plugin installed`);
  if (firstRun) output.out(firstRun);
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
