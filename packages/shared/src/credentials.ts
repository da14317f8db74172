import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** One server's saved API key. */
export interface ServerCredentials {
  key: string;
  user?: string;
}

/** The CLI's credentials file: API keys per server URL. */
export interface CredentialsFile {
  servers: Record<string, ServerCredentials>;
}

/** `$AWASM_CONFIG_DIR`, else `$XDG_CONFIG_HOME/awasm`, else `~/.config/awasm`. */
export function configDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AWASM_CONFIG_DIR) return env.AWASM_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'awasm');
  return join(homedir(), '.config', 'awasm');
}

/** Where the credentials are kept: `credentials.json` in the config directory. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDirectory(env), 'credentials.json');
}

/** The saved credentials; an empty file when there is none yet. A malformed file is an error naming it. */
export function readCredentials(path: string = credentialsPath()): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw error;
  }
  const parsed = JSON.parse(text) as unknown;
  const servers = (parsed as { servers?: unknown } | null)?.servers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) {
    throw new Error(`${path} is not a credentials file: it needs a "servers" object`);
  }
  return { servers: servers as Record<string, ServerCredentials> };
}

/** The saved key for a server URL (trailing slashes ignored), if any. */
export function savedKeyFor(serverUrl: string, path: string = credentialsPath()): ServerCredentials | undefined {
  return readCredentials(path).servers[normalizeServerUrl(serverUrl)];
}

/** Saves the key for each URL, keeping the other servers' entries; file mode 0600, folder 0700. */
export function saveCredentials(
  serverUrls: readonly string[],
  credentials: ServerCredentials,
  path: string = credentialsPath(),
): void {
  const file = readCredentials(path);
  for (const url of serverUrls) file.servers[normalizeServerUrl(url)] = credentials;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  // written aside and renamed, so a reader never sees half a file
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function normalizeServerUrl(url: string): string {
  return url.replace(/\/+$/, '');
}
