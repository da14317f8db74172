import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const binDir = join(repoRoot, 'node_modules', '.bin');
const buf = join(binDir, 'buf');
const committedGen = join(repoRoot, 'packages', 'shared', 'src', 'gen');
const GEN_OUT = 'packages/shared/src/gen';

/** buf finds the local plugin protoc-gen-es on PATH, as it does under `pnpm gen`. */
const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` };

async function runBuf(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(buf, args, { cwd: repoRoot, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * Everything under `dir` but its folders, as relative path -> sha256 of a file's content. A symlink
 * or any other entry that is not a plain file is listed too (as its kind), so it counts as extra.
 */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (entry.isDirectory()) continue;
    const full = join(entry.parentPath, entry.name);
    const hash = entry.isFile()
      ? createHash('sha256')
          .update(await readFile(full))
          .digest('hex')
      : 'not a regular file';
    out.set(relative(dir, full).split('\\').join('/'), hash);
  }
  return out;
}

/** The file protoc-gen-es writes for each .proto under proto/: `a/b/c.proto` -> `a/b/c_pb.ts`. */
async function expectedGenFiles(): Promise<string[]> {
  const protoDir = join(repoRoot, 'proto');
  const entries = await readdir(protoDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.proto'))
    .map((e) =>
      relative(protoDir, join(e.parentPath, e.name))
        .split('\\')
        .join('/')
        .replace(/\.proto$/, '_pb.ts'),
    )
    .sort();
}

describe('proto contract', () => {
  let work = '';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'awasm-gen-'));
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('committed packages/shared/src/gen matches a fresh `buf generate`', async () => {
    const template = await readFile(join(repoRoot, 'buf.gen.yaml'), 'utf8');
    const outLine = /^(\s*out:\s*)packages\/shared\/src\/gen\s*$/m;
    expect(template, `buf.gen.yaml must write to ${GEN_OUT}`).toMatch(outLine);
    const freshOut = join(work, 'gen');
    const tempTemplate = join(work, 'buf.gen.yaml');
    await writeFile(tempTemplate, template.replace(outLine, `$1${JSON.stringify(freshOut)}`));

    const result = await runBuf(['generate', '--template', tempTemplate]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const fresh = await tree(freshOut);
    const committed = await tree(committedGen);
    expect(fresh.size).toBeGreaterThan(0);

    const missing = [...fresh.keys()].filter((f) => !committed.has(f));
    const extra = [...committed.keys()].filter((f) => !fresh.has(f));
    const changed = [...fresh.keys()].filter((f) => committed.has(f) && committed.get(f) !== fresh.get(f));
    const hint = 'run `pnpm gen` and commit packages/shared/src/gen';
    expect(missing, `missing from ${GEN_OUT} (${hint})`).toEqual([]);
    expect(extra, `stale extra files in ${GEN_OUT} (${hint})`).toEqual([]);
    expect(changed, `out of date in ${GEN_OUT} (${hint})`).toEqual([]);
  });

  it('the committed tree holds exactly one _pb.ts per .proto file under proto/', async () => {
    // a template that skipped some inputs would leave both trees short and equal: this catches it
    const expected = await expectedGenFiles();
    expect(expected.length).toBeGreaterThan(0);
    expect([...(await tree(committedGen)).keys()].sort()).toEqual(expected);
  });

  it('`buf lint` passes', async () => {
    const result = await runBuf(['lint']);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('generates the services the gateway serves', async () => {
    const fresh = await tree(committedGen);
    expect([...fresh.keys()].sort()).toEqual(
      expect.arrayContaining([
        'awasm/v1/source_service_pb.ts',
        'awasm/v1/plugin_service_pb.ts',
        'grpc/health/v1/health_pb.ts',
        'grpc/reflection/v1/reflection_pb.ts',
        'grpc/reflection/v1alpha/reflection_pb.ts',
      ]),
    );
  });
});
