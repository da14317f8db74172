// The catalog's benchmark: `pnpm bench:catalog` (installs the tools, builds, then runs this file).
// Each figure is printed beside a baseline measured in the same run:
// - a page of 50 from a library of 10,000 entries, at the store (beside the same query as one
//   hand-written statement or find on the same data) and through the API (beside the API's
//   cheapest authenticated call on the same connection), on SQLite and, at the store, on MongoDB
//   (FerretDB v1.24; the embedded server, the only one that serves the API today, runs on SQLite);
// - progress writes per second through the API (beside the store's own writes per second);
// - a refresh of 1,000 library works over 8 fixture sources in the real sandbox, beside the
//   shortest time their manifests' rate limits allow, with the SQLite and the MongoDB stores.
// Prints a table and writes bench/results/catalog.json. Bounded by sample counts.
//
//   node test/bench/catalog-bench.mjs           everything
//   node test/bench/catalog-bench.mjs --quick   fewer entries and samples (a smoke run)

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFeedSources } from '../support/feed-sources.mjs';
import { startFerretDb } from '../support/ferretdb.mjs';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const resultsPath = join(repoRoot, 'bench/results/catalog.json');
const quick = process.argv.includes('--quick');
const N = quick
  ? { entries: 1_000, listSamples: 30, mongoSamples: 10, writes: 300, mongoWrites: 50, works: 80, sources: 4, rps: 5 }
  : {
      entries: 10_000,
      listSamples: 300,
      mongoSamples: 30,
      writes: 5_000,
      mongoWrites: 300,
      works: 1_000,
      sources: 8,
      rps: 25,
    };
const PAGE = 50;
const WRITERS = 16;
const KINDS = ['manga', 'anime', 'comic', 'book', 'tv', 'movie'];
const STATUSES = ['reading', 'completed', 'on_hold', 'dropped', 'planned'];

const { CatalogDatabase, MongoLibraryStore, SqliteFeedStore, SqliteLibraryStore, SqliteMediaCacheStore } = await import(
  '@awasm/catalog'
);
const { MongoFeedStore, MongoMediaCacheStore, UpdateScheduler } = await import('@awasm/catalog');

// ---------------------------------------------------------------------------------------------
// helpers

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const round = (x) => Math.round(x * 1000) / 1000;
const latency = (xs) => ({ n: xs.length, p50: round(quantile(xs, 0.5)), p99: round(quantile(xs, 0.99)) });

async function sample(fn, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

/** Runs `total` calls of fn with `width` in flight; returns calls per second. */
async function throughput(fn, total, width) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

/** A user's library of `count` entries with varied kinds, statuses, titles and times. */
async function seedLibrary(store, userId, count, sourceIds = ['bench-a', 'bench-b', 'bench-c']) {
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i++) {
    const sourceId = sourceIds[i % sourceIds.length];
    await store.addEntry({
      entryId: `${userId}-e${i}`,
      userId,
      sourceId,
      mediaId: `m${i}`,
      title: `Title ${(i * 7919) % count} of the bench library`,
      kind: KINDS[i % KINDS.length],
      sourceName: sourceId,
      status: STATUSES[i % STATUSES.length],
      addedAt: base + i * 60_000,
    });
  }
}

/** Pages through the first, a middle and a late page in turn, like a scrolling client. */
async function listSamples(list, n) {
  const cursors = [undefined];
  let cursor;
  for (let p = 0; p < 100 && cursors.length < 40; p++) {
    cursor = await list(cursor);
    if (!cursor) break;
    cursors.push(cursor);
  }
  return sample((i) => list(cursors[i % cursors.length]), n);
}

// ---------------------------------------------------------------------------------------------
// scenarios

async function storeListing(store, rawPage, samples = N.listSamples) {
  await seedLibrary(store, 'bench-user', N.entries);
  await seedLibrary(store, 'other-user', Math.min(1_000, N.entries));
  const storeSamples = await listSamples(async (cursor) => {
    const page = await store.listEntries('bench-user', { sort: 'title', limit: PAGE, ...(cursor ? { cursor } : {}) });
    return page.nextCursor;
  }, samples);
  const rawSamples = await sample(() => rawPage(), samples);
  return { store: latency(storeSamples), baseline: latency(rawSamples) };
}

async function sqliteListing() {
  const dir = await mkdtemp(join(os.tmpdir(), 'awasm-bench-catalog-'));
  const db = CatalogDatabase.open(join(dir, 'catalog.db'));
  try {
    const store = new SqliteLibraryStore(db);
    // the baseline: one statement of the same page on the same rows, no cursor, no mapping
    const statement = db.connection.prepare(
      `SELECT * FROM library_entries WHERE user_id = ? ORDER BY title_fold, entry_id LIMIT ${PAGE}`,
    );
    return await storeListing(store, async () => statement.all('bench-user'));
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function mongoListing(url) {
  const store = await MongoLibraryStore.connect(url, 'bench-listing');
  // the driver the catalog itself uses (the bench's package does not depend on it)
  const driver = createRequire(join(repoRoot, 'services/catalog/package.json')).resolve('mongodb');
  const { MongoClient } = await import(pathToFileURL(driver).href);
  const client = await MongoClient.connect(url);
  try {
    const collection = client.db('bench-listing').collection('library_entries');
    // FerretDB answers each page in hundreds of ms: fewer samples keep the run bounded
    return await storeListing(
      store,
      () => collection.find({ userId: 'bench-user' }).sort({ titleFold: 1, _id: 1 }).limit(PAGE).toArray(),
      N.mongoSamples,
    );
  } finally {
    await client.close();
    await store.close();
  }
}

async function storeWrites(store, total = N.writes) {
  await seedLibrary(store, 'writer', 1);
  return throughput(
    (i) =>
      store.writeProgress(
        'writer',
        'writer-e0',
        [{ unitId: `u${i % 500}`, position: i, total: 1_000, clientTime: 1_000 + i }],
        Date.now(),
      ),
    total,
    WRITERS,
  );
}

/** The API figures: an embedded server on a temp data dir, called over gRPC (HTTP/2) with a key. */
async function apiFigures() {
  const dataDir = await mkdtemp(join(os.tmpdir(), 'awasm-bench-api-'));
  process.env.AWASM_CONFIG_DIR = join(dataDir, 'config');
  const { startEmbeddedServer } = await import('@awasm/embedded');
  const { loadConfig, createLogger } = await import('@awasm/shared');
  const { createClient } = await import('@connectrpc/connect');
  const { createGrpcTransport } = await import('@connectrpc/connect-node');
  const { LibraryService } = await import('@awasm/shared/gen/awasm/v1/library_service_pb.js');
  const { UserService } = await import('@awasm/shared/gen/awasm/v1/user_service_pb.js');
  const config = loadConfig({ env: { AWASM_DATA_DIR: dataDir, AWASM_PORT: '0' } });
  const server = await startEmbeddedServer(config, createLogger({ level: 'error' }));
  try {
    const key = server.adminKey;
    const transport = createGrpcTransport({
      baseUrl: server.url,
      interceptors: [
        (next) => (request) => {
          request.header.set('authorization', `Bearer ${key}`);
          return next(request);
        },
      ],
    });
    const library = createClient(LibraryService, transport);
    const users = createClient(UserService, transport);
    const me = await users.whoAmI({});
    const userId = me.user?.id;
    // seeded through a second connection to the server's own file, as the API's AddEntry would
    // call the source 10,000 times
    const seedDb = CatalogDatabase.open(join(dataDir, 'catalog.db'));
    try {
      await seedLibrary(new SqliteLibraryStore(seedDb), userId, N.entries);
    } finally {
      seedDb.close();
    }
    const listSamplesApi = await listSamples(async (pageToken) => {
      const page = await library.listEntries({ pageSize: PAGE, ...(pageToken ? { pageToken } : {}) });
      return page.nextPageToken || undefined;
    }, N.listSamples);
    const whoAmISamples = await sample(() => users.whoAmI({}), N.listSamples);
    const entryId = `${userId}-e0`;
    const { timestampFromMs } = await import('@bufbuild/protobuf/wkt');
    // the API takes client times from this century up to a day ahead: recent ones, all distinct
    const since = Date.now() - N.writes;
    const writesPerSecond = await throughput(
      (i) =>
        library.writeProgress({
          entryId,
          writes: [{ unitId: `u${i % 500}`, position: i, total: 1_000, clientTime: timestampFromMs(since + i) }],
        }),
      N.writes,
      WRITERS,
    );
    return { list: latency(listSamplesApi), baseline: latency(whoAmISamples), writesPerSecond };
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A refresh pass over N.works library works spread over the fixture sources. */
async function refresh(label, stores) {
  const cacheDir = join(repoRoot, '.cache/bench-catalog');
  const sources = await startFeedSources({ count: N.sources, requestsPerSecond: N.rps, cacheDir });
  try {
    const perSource = new Map(sources.sourceIds.map((id) => [id, 0]));
    for (let i = 0; i < N.works; i++) {
      const sourceId = sources.sourceIds[i % sources.sourceIds.length];
      perSource.set(sourceId, perSource.get(sourceId) + 1);
      const units = Array.from({ length: 20 }, (_, u) => ({ id: `c${u}`, title: `Chapter ${u}`, number: u }));
      sources.setUnits(sourceId, `w${i}`, units);
      await stores.library.addEntry({
        entryId: `reader-w${i}`,
        userId: 'reader',
        sourceId,
        mediaId: `w${i}`,
        title: `Work ${i}`,
        kind: 'manga',
        sourceName: sourceId,
        addedAt: Date.now() - 1_000,
      });
    }
    const scheduler = new UpdateScheduler({
      runner: sources.runner,
      works: stores.library,
      cache: stores.cache,
      feed: stores.feed,
      parallelSources: N.sources,
    });
    const started = performance.now();
    const status = await scheduler.refreshNow();
    const seconds = (performance.now() - started) / 1000;
    await scheduler.stop();
    // the GCRA limit lets a burst of floor(rps) go at once, then one request per 1/rps s
    const burst = Math.max(1, Math.floor(N.rps));
    const minimum = Math.max(...[...perSource.values()].map((works) => Math.max(0, works - burst) / N.rps));
    return {
      label,
      works: N.works,
      sources: N.sources,
      requestsPerSecond: N.rps,
      done: status.done.length,
      failed: status.failed.length,
      seconds: round(seconds),
      minimumSeconds: round(minimum),
      ratio: round(seconds / minimum),
    };
  } finally {
    await sources.close();
  }
}

async function sqliteRefresh() {
  const db = CatalogDatabase.open(':memory:');
  try {
    return await refresh('SQLite', {
      library: new SqliteLibraryStore(db),
      cache: new SqliteMediaCacheStore(db),
      feed: new SqliteFeedStore(db),
    });
  } finally {
    db.close();
  }
}

async function mongoRefresh(url) {
  const stores = {
    library: await MongoLibraryStore.connect(url, 'bench-refresh'),
    cache: await MongoMediaCacheStore.connect(url, 'bench-refresh'),
    feed: await MongoFeedStore.connect(url, 'bench-refresh'),
  };
  try {
    return await refresh('MongoDB wire (FerretDB)', stores);
  } finally {
    for (const store of Object.values(stores)) await store.close();
  }
}

// ---------------------------------------------------------------------------------------------

const report = { when: new Date().toISOString(), quick, machine: { cpus: os.cpus().length, node: process.version } };
const ms = (x) => `${x.p50} / ${x.p99} ms`;
const ferret = await startFerretDb();
try {
  report.listing = { sqlite: await sqliteListing(), mongo: await mongoListing(ferret.url) };
  report.api = await apiFigures();
  {
    // a file with the server's own settings (WAL, synchronous FULL), as the API writes to
    const dir = await mkdtemp(join(os.tmpdir(), 'awasm-bench-writes-'));
    const db = CatalogDatabase.open(join(dir, 'catalog.db'));
    report.storeWritesPerSecond = { sqlite: round(await storeWrites(new SqliteLibraryStore(db))) };
    db.close();
    await rm(dir, { recursive: true, force: true });
    const mongo = await MongoLibraryStore.connect(ferret.url, 'bench-writes');
    report.storeWritesPerSecond.mongo = round(await storeWrites(mongo, N.mongoWrites));
    await mongo.close();
  }
  report.refresh = [await sqliteRefresh(), await mongoRefresh(ferret.url)];
} finally {
  await ferret.stop();
}

const rows = [
  [
    'page of 50 from 10,000, store, SQLite (p50 / p99)',
    ms(report.listing.sqlite.store),
    ms(report.listing.sqlite.baseline),
    'one SELECT of the same page',
  ],
  [
    'page of 50 from 10,000, store, MongoDB (p50 / p99)',
    ms(report.listing.mongo.store),
    ms(report.listing.mongo.baseline),
    'one find of the same page',
  ],
  [
    'page of 50 from 10,000, API, SQLite (p50 / p99)',
    ms(report.api.list),
    ms(report.api.baseline),
    'WhoAmI on the same connection',
  ],
  [
    'progress writes/s, API, SQLite',
    `${Math.round(report.api.writesPerSecond)}/s`,
    `${Math.round(report.storeWritesPerSecond.sqlite)}/s`,
    'the store called directly',
  ],
  ['progress writes/s, store, MongoDB', `${Math.round(report.storeWritesPerSecond.mongo)}/s`, '', ''],
  ...report.refresh.map((r) => [
    `refresh ${r.works} works over ${r.sources} sources at ${r.requestsPerSecond} rps, ${r.label}`,
    `${r.seconds} s (${r.ratio}x; ${r.failed} failed)`,
    `${r.minimumSeconds} s`,
    "the rate limits' minimum",
  ]),
];
const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length), 8));
console.log(['scenario', 'measured', 'baseline', 'baseline is'].map((h, c) => h.padEnd(widths[c])).join(' | '));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join(' | '));
if (!quick) {
  await mkdir(join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(resultsPath, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${resultsPath.slice(repoRoot.length)}`);
}
