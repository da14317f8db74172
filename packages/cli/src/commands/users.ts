import { saveCredentials, savedKeyFor } from '@awasm/shared';
import {
  type ApiKey,
  ApiKeySchema,
  type User,
  UserRole,
  UserSchema,
} from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { Command } from 'commander';
import { table } from '../output.js';
import type { CommandContext } from './context.js';

/** "2026-12-03 13:40" in UTC; empty when unset. */
function minute(t: Timestamp | undefined): string {
  return t ? new Date(Number(t.seconds) * 1000).toISOString().slice(0, 16).replace('T', ' ') : '';
}

function roleName(role: UserRole): string {
  return role === UserRole.ADMIN ? 'admin' : role === UserRole.MEMBER ? 'member' : 'unknown';
}

function userTable(users: User[]): string {
  return table(
    ['NAME', 'ROLE', 'PASSWORD', 'CREATED', 'ID'],
    users.map((u) => [u.name, roleName(u.role), u.hasPassword ? 'yes' : 'no', minute(u.createdAt), u.id]),
  );
}

function keyTable(keys: ApiKey[]): string {
  return table(
    ['ID', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'],
    keys.map((k) => [k.id, k.name, minute(k.createdAt), minute(k.lastUsedAt) || 'never', k.revoked ? 'yes' : 'no']),
  );
}

/** `awasm login`, `awasm whoami`, `awasm user …` (admins) and `awasm key …` (your own keys). */
export function addUserCommands(program: Command, ctx: CommandContext): void {
  program
    .command('login')
    .description('log in with a name and password; saves a new API key for --server in the credentials file')
    .option('--name <name>', "your user name (default: the saved key's user for --server)")
    .option('--password-stdin', 'read the password from stdin instead of asking for it', false)
    .action(async (flags: { name?: string; passwordStdin: boolean }) => {
      // by default the user this server's saved key belongs to
      const name = flags.name ?? savedKeyFor(ctx.server())?.user ?? '';
      if (!name) throw ctx.usage('give your user name with --name');
      const password = await ctx.readPassword(`password for ${name}: `, flags.passwordStdin);
      const { key, keyInfo, user } = await ctx.users().login({ name, password });
      saveCredentials([ctx.server()], { key, user: user?.name ?? name });
      ctx.print(`logged in to ${ctx.server()} as ${user?.name ?? name}; API key '${keyInfo?.name ?? ''}' saved`, {
        server: ctx.server(),
        user: user ? toJson(UserSchema, user) : null,
        key: keyInfo ? toJson(ApiKeySchema, keyInfo) : null,
      });
    });

  program
    .command('whoami')
    .description('the user your API key belongs to')
    .action(async () => {
      const { user, role } = await ctx.users().whoAmI({});
      ctx.print(user ? `${user.name} (${roleName(role)})` : `the operator (admin token, ${roleName(role)})`, {
        user: user ? toJson(UserSchema, user) : null,
        role: roleName(role),
      });
    });

  const user = program.command('user').description("manage this server's users (admins only)");
  user
    .command('add <name>')
    .description('add a user and print its first API key (shown only now)')
    .option('--admin', 'an admin, who may also install plugins and manage users (default: a member)', false)
    .option('--password-stdin', 'also give it a password for `awasm login`, read from stdin', false)
    .action(async (name: string, flags: { admin: boolean; passwordStdin: boolean }) => {
      const password = flags.passwordStdin ? await ctx.readPassword('', true) : undefined;
      const created = await ctx.users().createUser({
        name,
        role: flags.admin ? UserRole.ADMIN : UserRole.MEMBER,
        ...(password === undefined ? {} : { password }),
      });
      ctx.print(
        `added ${roleName(created.user?.role ?? UserRole.UNSPECIFIED)} ${name}; API key (shown only now):\n${created.key}`,
        { user: created.user ? toJson(UserSchema, created.user) : null, key: created.key },
      );
    });
  user
    .command('list')
    .description('list users')
    .action(async () => {
      const { users } = await ctx.users().listUsers({});
      ctx.print(
        userTable(users),
        users.map((u) => toJson(UserSchema, u)),
      );
    });
  user
    .command('remove <name>')
    .description('remove a user with its keys and its data')
    .action(async (name: string) => {
      await ctx.users().removeUser({ name });
      ctx.print(`removed ${name}`, { removed: name });
    });
  user
    .command('reset-key <name>')
    .description("revoke all of a user's API keys and print one new key (shown only now)")
    .action(async (name: string) => {
      const { key, revoked } = await ctx.users().resetKey({ name });
      ctx.print(`revoked ${revoked} key${revoked === 1 ? '' : 's'} of ${name}; new API key (shown only now):\n${key}`, {
        user: name,
        revoked,
        key,
      });
    });

  user
    .command('set-password <name>')
    .description("set a user's password for `awasm login` (an admin sets anyone's; your own first one too)")
    .option('--password-stdin', 'read the new password from stdin instead of asking for it', false)
    .action(async (name: string, flags: { passwordStdin: boolean }) => {
      const newPassword = await ctx.readPassword(`new password for ${name}: `, flags.passwordStdin);
      await ctx.users().setPassword({ name, newPassword });
      ctx.print(`password of ${name} set`, { user: name });
    });

  const key = program.command('key').description('your own API keys');
  key
    .command('create <name>')
    .description('make a new API key and print it (shown only now)')
    .action(async (name: string) => {
      const created = await ctx.users().createApiKey({ name });
      ctx.print(`API key '${created.keyInfo?.name ?? name}' (shown only now):\n${created.key}`, {
        key: created.key,
        info: created.keyInfo ? toJson(ApiKeySchema, created.keyInfo) : null,
      });
    });
  key
    .command('list')
    .description('list your API keys (never the keys themselves)')
    .action(async () => {
      const { keys } = await ctx.users().listApiKeys({});
      ctx.print(
        keyTable(keys),
        keys.map((k) => toJson(ApiKeySchema, k)),
      );
    });
  key
    .command('revoke <id>')
    .description('revoke one of your API keys by its id (from `awasm key list`)')
    .action(async (id: string) => {
      await ctx.users().revokeApiKey({ id });
      ctx.print(`revoked key ${id}`, { revoked: id });
    });
}
