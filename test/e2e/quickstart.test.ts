/**
 * The README's quick start, as a newcomer runs it: `awasm serve --demo` prints where it listens,
 * the first admin's API key and where it saved it, and a next command; that command, run as
 * printed (it finds the saved key itself), returns demo results.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { type ConfigDir, configDir } from '../support/auth.js';
import { repoRoot, run, startProcess, tempDir } from '../support/index.js';

let data: Awaited<ReturnType<typeof tempDir>> | undefined;
let config: ConfigDir | undefined;
let server: Awaited<ReturnType<typeof startProcess>> | undefined;

afterAll(async () => {
  await server?.stop();
  await data?.remove();
  await config?.remove();
});

it('serve --demo prints a next command that returns demo results', async () => {
  data = await tempDir('quickstart');
  config = await configDir('quickstart-config');
  server = await startProcess(
    join(repoRoot, 'awasm'),
    ['serve', '--demo', '--port', '0', '--data-dir', data.path, '--log-level', 'warn'],
    /try: (\.\/awasm .+)\n/,
    { timeoutMs: 180_000, env: config.env },
  );
  // the quick start's whole output: four lines on stdout, three progress lines on stderr
  const stdout = server.stdout().split('\n');
  const url = /^awasm listening on (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout[0] ?? '')?.[1];
  expect(url, server.output()).toBeDefined();
  expect(stdout).toEqual([
    `awasm listening on ${url} (data in ${data.path})`,
    expect.stringMatching(/^demo site on 127\.0\.0\.1:\d+, demo plugin installed$/),
    `first run: created the user admin with API key ${config.savedKey(url as string)} (shown only now; saved in ${config.path}/credentials.json for ${url})`,
    `try: ./awasm --server ${url} search demo-library alice`,
    '',
  ]);
  expect(server.stderr().split('\n')).toEqual([
    'starting the demo site and the server...',
    'building the demo plugin (first run ~10 s, cached after)...',
    'installing the demo plugin...',
    '',
  ]);

  const [program, ...args] = (server.match[1] as string).split(' ');
  const result = await run(join(repoRoot, program as string), args, { env: config.env });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  // the header and the one demo book that matches "alice", nothing else
  expect(result.stdout.split('\n')).toEqual([
    expect.stringMatching(/^ID\s+TITLE\s+KIND\s+AUTHORS\s+STATUS$/),
    expect.stringMatching(/^alice-wonderland\s+Alice's Adventures in Wonderland\s+book\s+Lewis Carroll\s+completed$/),
    '',
  ]);
});
