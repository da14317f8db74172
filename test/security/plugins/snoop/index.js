// A hostile source that looks for a way out: preopened directories, files, the environment, the
// process arguments and working directory, and exit. getMedia(what) reports what it found.
import { getArguments, getEnvironment, initialCwd } from 'wasi:cli/environment@0.2.10';
import { exit } from 'wasi:cli/exit@0.2.10';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.10';

function media(id, description) {
  return {
    id,
    title: id,
    kind: 'book',
    altTitles: [],
    description,
    authors: [],
    genres: [],
    status: 'unknown',
    languages: [],
    nsfw: false,
  };
}

function attempt(fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    return { error: String(e?.payload ?? e?.message ?? e) };
  }
}

const probes = {
  files() {
    const dirs = getDirectories();
    const found = { preopens: dirs.map(([, path]) => path), reads: [] };
    for (const [dir, path] of dirs) {
      const r = attempt(() => {
        const fd = dir.openAt({}, 'etc/passwd', {}, { read: true });
        return new TextDecoder().decode(fd.read(4096n, 0n)[0]);
      });
      found.reads.push({ path, ...r });
    }
    return found;
  },
  async fileUrl() {
    try {
      const r = await fetch('file:///etc/passwd');
      return { status: r.status, body: await r.text() };
    } catch (e) {
      return { error: String(e) };
    }
  },
  env() {
    return { env: getEnvironment(), args: getArguments(), cwd: initialCwd() ?? null };
  },
  exit() {
    exit({ tag: 'err', val: undefined });
    return { survived: 'exit returned' };
  },
};

export const sourceApi = {
  async search(_query, _filters, _cursor) {
    return { items: [] };
  },
  async list(listing, _cursor) {
    return { items: [media(`still serving ${listing}`)] };
  },
  async getMedia(id) {
    const probe = probes[id];
    if (!probe) throw { tag: 'not-found' };
    return media(id, JSON.stringify(await probe()));
  },
  async listUnits(_mediaId, _cursor) {
    return { items: [] };
  },
  async getAssets(_unitId) {
    return [];
  },
  async filters() {
    return [];
  },
};
