/**
 * The README's quick start, as a newcomer runs it: `awasm serve --demo` prints where it listens
 * and a next command; that command, run as printed, returns demo results.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { repoRoot, run, startProcess, tempDir } from '../support/index.js';

let data: Awaited<ReturnType<typeof tempDir>> | undefined;
let server: Awaited<ReturnType<typeof startProcess>> | undefined;

afterAll(async () => {
  await server?.stop();
  await data?.remove();
});

it('serve --demo prints a next command that returns demo results', async () => {
  data = await tempDir('quickstart');
  server = await startProcess(
    join(repoRoot, 'awasm'),
    ['serve', '--demo', '--port', '0', '--data-dir', data.path, '--log-level', 'warn'],
    /try: (\.\/awasm .+)\n/,
    { timeoutMs: 180_000 },
  );
  expect(server.output()).toMatch(/awasm listening on http:\/\/127\.0\.0\.1:\d+/);
  const [program, ...args] = (server.match[1] as string).split(' ');
  const result = await run(join(repoRoot, program as string), args);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^ID\s+TITLE\s+KIND/);
  expect(result.stdout.split('\n').length).toBeGreaterThan(1);
});
