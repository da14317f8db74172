/**
 * Which API key the CLI sends (--api-key, then AWASM_API_KEY, then the credentials file's key for
 * --server), what an UNAUTHENTICATED answer prints, and which URLs `awasm serve` saves the first
 * admin's key for. A small real server answers WhoAmI with the key it was sent.
 */
import { saveCredentials } from '@awasm/shared';
import { UserRole, UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../../server/src/server.js';
import { DEFAULT_SERVER } from './client.js';
import { main } from './main.js';
import { credentialUrls } from './serve.js';

let server: RunningServer;

beforeAll(async () => {
  server = await createServer({
    services: [UserService],
    routes: (router) =>
      router.service(UserService, {
        whoAmI(_request, context) {
          const key = /^Bearer (\S+)$/.exec(context.requestHeader.get('authorization') ?? '')?.[1];
          if (!key) throw new ConnectError('this call needs an API key', Code.Unauthenticated);
          return { user: { id: key, name: key, role: UserRole.MEMBER }, role: UserRole.MEMBER };
        },
      }),
  });
});

afterAll(() => server?.close());

afterEach(() => {
  delete process.env.AWASM_API_KEY;
});

async function whoami(...flags: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'awasm', '--server', server.url, ...flags, 'whoami'], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out, err };
}

describe('the API key the CLI sends', () => {
  it('is --api-key, else AWASM_API_KEY, else the one saved for --server; none gets a login hint', async () => {
    const none = await whoami();
    expect(none.code).toBe(1);
    expect(none.err).toEqual([
      'error: Unauthenticated: this call needs an API key',
      `hint: run \`awasm login\` to save an API key for ${server.url}, or pass one with --api-key or AWASM_API_KEY`,
    ]);

    saveCredentials([server.url, 'http://127.0.0.1:1'], { key: 'saved-key', user: 'saved-key' });
    expect((await whoami()).out).toEqual(['saved-key (member)']);
    process.env.AWASM_API_KEY = 'env-key';
    expect((await whoami()).out).toEqual(['env-key (member)']);
    expect((await whoami('--api-key', 'flag-key')).out).toEqual(['flag-key (member)']);
  });
});

describe('credentialUrls', () => {
  it('adds the CLI default for the default port of a loopback or every address, and only then', () => {
    expect(credentialUrls(DEFAULT_SERVER, '127.0.0.1', 7600)).toEqual([DEFAULT_SERVER]);
    for (const [url, host] of [
      ['http://localhost:7600', 'localhost'],
      ['http://[::1]:7600', '::1'],
      ['http://0.0.0.0:7600', '0.0.0.0'],
      ['http://127.0.0.2:7600', '127.0.0.2'],
    ]) {
      expect(credentialUrls(url as string, host as string, 7600)).toEqual([url, DEFAULT_SERVER]);
    }
    expect(credentialUrls('http://127.0.0.1:41235', '127.0.0.1', 41235)).toEqual(['http://127.0.0.1:41235']);
    expect(credentialUrls('http://192.168.1.5:7600', '192.168.1.5', 7600)).toEqual(['http://192.168.1.5:7600']);
  });
});
