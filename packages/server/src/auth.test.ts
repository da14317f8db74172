import { UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { Health } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { describe, expect, it } from 'vitest';
import { adminBearer, authenticate, type Caller, callerOf, remoteAddressOf } from './auth.js';
import { createServer } from './server.js';

const TOKEN = 'test-admin-token-0123456789';

/** A Health service whose Check records the caller the authenticator found. */
function clientSeeing(seen: Caller[], interceptors = [authenticate(adminBearer(TOKEN))]) {
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check(_request, context) {
          seen.push(callerOf(context));
          return {};
        },
      }),
    { router: { interceptors } },
  );
  return createClient(Health, transport);
}

describe('adminBearer', () => {
  it('finds the operator only from `authorization: Bearer <admin token>`', async () => {
    const seen: Caller[] = [];
    const client = clientSeeing(seen);
    await client.check({}, { headers: { authorization: `Bearer ${TOKEN}` } });
    await client.check({}, { headers: { authorization: `Bearer ${TOKEN}x` } });
    await client.check({}, { headers: { authorization: `Bearer ${TOKEN.slice(1)}` } });
    await client.check({}, { headers: { authorization: TOKEN } });
    await client.check({});
    expect(seen.map((caller) => caller.role)).toEqual(['admin', 'anonymous', 'anonymous', 'anonymous', 'anonymous']);
  });

  it('finds nobody to be the operator when no admin token is configured', () => {
    const authenticator = adminBearer(undefined);
    expect((authenticator(new Headers({ authorization: 'Bearer ' })) as Caller).role).toBe('anonymous');
    expect((authenticator(new Headers({ authorization: 'Bearer undefined' })) as Caller).role).toBe('anonymous');
  });
});

describe('callerOf', () => {
  it('is anonymous when no authenticator ran', async () => {
    const seen: Caller[] = [];
    await clientSeeing(seen, []).check({}, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(seen.map((caller) => caller.role)).toEqual(['anonymous']);
  });
});

describe('remoteAddressOf', () => {
  it("is the TCP peer's address on a served call, and undefined in-process", async () => {
    const seen: (string | undefined)[] = [];
    const routes = (router: Parameters<Parameters<typeof createRouterTransport>[0]>[0]) =>
      router.service(UserService, {
        whoAmI(_request, context) {
          seen.push(remoteAddressOf(context));
          return {};
        },
      });
    const server = await createServer({ services: [UserService], routes });
    try {
      // a header naming another address changes nothing
      await createClient(UserService, createGrpcTransport({ baseUrl: server.url })).whoAmI(
        {},
        { headers: { 'x-forwarded-for': '192.0.2.1' } },
      );
    } finally {
      await server.close();
    }
    await createClient(UserService, createRouterTransport(routes)).whoAmI({});
    expect(seen).toEqual([expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/), undefined]);
  });
});
