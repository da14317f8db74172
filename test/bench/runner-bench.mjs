// The plugin runner's benchmark: `pnpm bench` (installs the tools, builds the workspace, then runs
// this file). Every scenario runs for two guests of the same source: JavaScript (componentize-js, a
// JS engine inside the guest) and C (wit-bindgen, no engine), so the runner's own cost shows apart
// from the guest's.
//
// Each figure is measured beside a baseline in the same run, each scenario in a fresh Node process
// so one does not warm the next. The loopback fixture server runs in this (otherwise idle) process.
// Prints a table and writes bench/results/runner.json. Bounded by sample counts and durations.
//
//   node test/bench/runner-bench.mjs              all scenarios
//   node test/bench/runner-bench.mjs --quick      fewer samples (a smoke run)

import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The same source in two guests: JavaScript (componentize-js: an engine in the guest) and C. */
const GUESTS = {
  js: { label: 'JS guest (componentize-js)', source: join(repoRoot, 'test/bench/plugins/bench/index.js') },
  c: { label: 'C guest (wit-bindgen, no JS engine)', source: join(repoRoot, 'test/bench/plugins/bench-c/bench.c') },
};
const cacheDir = join(repoRoot, '.cache/bench-runner');
/** The baselines' transpile cache: every core module kept whole, as plain jco output is. */
const wholeCacheDir = join(repoRoot, '.cache/bench-runner-whole');
/**
 * Another JS plugin (the sandbox tests' well-behaved source, whose list() does no I/O), built by the
 * same componentize-js: it carries the same engine as the JS bench source.
 */
const NEIGHBOUR_SOURCE = join(repoRoot, 'test/security/plugins/fetcher/index.js');
/** How long before the timed load the neighbour answered its call (see coldRunner). */
const NEIGHBOUR_SETTLE_MS = 500;
const resultsPath = join(repoRoot, 'bench/results/runner.json');
const HOST = 'bench.awasm.test';
const quick = process.argv.includes('--quick');

/**
 * Sample counts and durations; the whole run takes about two and a half minutes. The I/O warm-up is a few
 * hundred calls because V8 keeps tiering up the glue and the guest's hot wasm functions over the
 * first hundreds of calls of an instance: "warm" is the steady state a serving instance is in.
 */
const N = quick
  ? { ioWarm: 5, io: 30, p2: 5, noIo: 300, cold: 2, throughputMs: 800, warmRuns: 1 }
  : { ioWarm: 300, io: 300, p2: 30, noIo: 3000, cold: 11, throughputMs: 3000, warmRuns: 5 };
const SOURCES = 8;
const CALLERS_PER_SOURCE = 2;
/** upstream latency of the "slow upstream" throughput runs (the fixture waits this long per GET) */
const SLOW_MS = 20;

// no requestsPerSecond: the bench measures the runner, not a rate limit (a limit of 1000/s, the
// manifest's ceiling, throttled the back-to-back searches and inflated their times)
const limits = {
  memoryMb: 128,
  callTimeoutMs: 10_000,
  maxResponseBytes: 1024 * 1024,
  maxConcurrency: 8,
};

// ---------------------------------------------------------------------------------------------
// helpers

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return /** @type {number} */ (s[i]);
}

/** @param {number[]} xs */
function summary(xs) {
  return { n: xs.length, p50: round(quantile(xs, 0.5)), p95: round(quantile(xs, 0.95)) };
}

/** @param {number} x */
function round(x) {
  return Math.round(x * 1000) / 1000;
}

/** @param {() => Promise<unknown>} fn @param {number} n */
async function sample(fn, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

function rssMb() {
  /** @type {any} */ (globalThis).gc?.();
  return process.memoryUsage().rss / (1024 * 1024);
}

/** A bench plugin spec for the runner. @param {string} id @param {Uint8Array} bytes @param {string} digest */
function spec(id, bytes, digest) {
  return { id, digest, component: bytes, allowedHosts: [`http://${HOST}`], limits, settings: {} };
}

/** @param {'js' | 'c'} guest */
async function loadComponent(guest) {
  const { sha256Hex } = await import('@awasm/plugin-runner');
  const { buildJsComponent, buildCComponent } = await import('@awasm/plugin-sdk');
  const sourcePath = GUESTS[guest].source;
  const built = guest === 'c' ? await buildCComponent({ sourcePath }) : await buildJsComponent({ sourcePath });
  return { bytes: built.bytes, digest: sha256Hex(built.bytes), path: built.path };
}

/** Five sequential GETs with Node's http and a keep-alive agent, bodies parsed as the plugin does. */
function directClient(base) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  /** @param {string} path */
  const get = (path) =>
    new Promise((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  return {
    async fiveGets() {
      for (let i = 0; i < 5; i++) await get(`/item/${i}`);
    },
    async fiveFetches() {
      for (let i = 0; i < 5; i++) await (await fetch(`${base}/item/${i}`)).json();
    },
    close: () => agent.destroy(),
  };
}

/** jco + plain preview2-shim in this process (its own wasi:http), no sandbox: the generic path. */
async function preview2Instance(entry, modules) {
  const { WASIShim } = await import('@bytecodealliance/preview2-shim/instantiation');
  const { instantiate } = await import(entry.componentUrl);
  const wasi = new WASIShim({ sandbox: { preopens: {}, env: {}, args: ['bench'] } }).getImportObject();
  const root = await instantiate((name) => modules[name], {
    ...wasi,
    'awasm:source/host': { getSetting: () => undefined, log: () => {} },
    'awasm:source/types': {},
  });
  return root.sourceApi;
}

// ---------------------------------------------------------------------------------------------
// scenarios, each run in its own process: (args) => result object

const scenarios = {
  /** (a) a search doing 5 sequential GETs, and (b) a warm call doing no I/O, through the runner */
  async warm({ port, guest }) {
    const { RunnerPool } = await import('@awasm/plugin-runner');
    const c = await loadComponent(guest);
    const pool = new RunnerPool({ cacheDir, connectTo: { [`${HOST}:80`]: `127.0.0.1:${port}` } });
    await pool.load(spec('bench', c.bytes, c.digest));
    const search = () => pool.call('bench', 'search', [`http://${HOST}`, [], undefined]);
    const list = () => pool.call('bench', 'list', ['popular', undefined]);
    const direct = directClient(`http://127.0.0.1:${port}`);
    await sample(search, N.ioWarm);
    await sample(() => direct.fiveGets(), N.ioWarm);
    await sample(() => direct.fiveFetches(), N.ioWarm);
    // interleaved in rounds, so drift on the machine hits all three alike
    const runner = [];
    const gets = [];
    const fetches = [];
    for (let round = 0; round < 10; round++) {
      runner.push(...(await sample(search, N.io / 10)));
      gets.push(...(await sample(() => direct.fiveGets(), N.io / 10)));
      fetches.push(...(await sample(() => direct.fiveFetches(), N.io / 10)));
    }
    // back to back, as a source serving steady traffic is: the rounds above leave the runner's
    // threads idle while the direct clients run, and on this VM a thread woken after a quiet spell
    // is slow to answer for a while (four hand-offs per GET for the runner, two for a direct GET)
    const steadyRunner = await sample(search, N.io);
    const steadyFetches = await sample(() => direct.fiveFetches(), N.io);
    await sample(list, N.noIo / 10);
    const noIo = await sample(list, N.noIo);
    direct.close();
    await pool.close();
    return {
      search5: { runner: summary(runner), directHttp: summary(gets), directFetch: summary(fetches) },
      noIoCall: { runner: summary(noIo) },
      samples: { runner, gets, fetches, noIo, steadyRunner, steadyFetches },
    };
  },

  /** (d) the same workload through plain preview2-shim in-process, and a no-I/O call made directly */
  async preview2({ port, guest }) {
    const { TranspileCache } = await import('@awasm/plugin-runner');
    const c = await loadComponent(guest);
    const { entry } = await new TranspileCache(wholeCacheDir, { splitAt: Number.POSITIVE_INFINITY }).get(
      c.digest,
      c.bytes,
    );
    const modules = {};
    for (const [name, bytes] of entry.coreModules) modules[name] = await WebAssembly.compile(bytes);
    const rss0 = rssMb();
    const apis = [];
    for (let i = 0; i < SOURCES; i++) {
      const api = await preview2Instance(entry, modules);
      api.list('popular', undefined);
      apis.push(api);
    }
    const rssPerInstance = (rssMb() - rss0) / SOURCES;
    const api = apis[0];
    const base = `http://127.0.0.1:${port}`;
    await sample(async () => api.search(base, [], undefined), Math.min(3, N.p2));
    const search = await sample(async () => api.search(base, [], undefined), N.p2);
    await sample(async () => api.list('popular', undefined), N.noIo / 10);
    const noIo = await sample(async () => api.list('popular', undefined), N.noIo);
    return { search5: summary(search), noIoCall: summary(noIo), rssPerInstanceMb: round(rssPerInstance) };
  },

  /**
   * (b) one cold start of a source from the on-disk cache to its first result. With `runnerUp`, in a
   * running runner (its booted spare worker ready, as in a server that has been up for a moment);
   * without, the runner itself is created in the timed span (no spare booted yet). Each in a fresh
   * process: V8 keeps compiled wasm per process, so a second load in one process is not cold. With
   * `neighbour`, another JS source (NEIGHBOUR_SOURCE) is loaded and has answered a call
   * NEIGHBOUR_SETTLE_MS before: the engine the two share is then compiled already, as it is for every
   * JS source after the first.
   */
  async coldRunner({ guest, runnerUp, neighbour }) {
    const { RunnerPool, sha256Hex } = await import('@awasm/plugin-runner');
    const c = await loadComponent(guest);
    let t0 = performance.now();
    const pool = new RunnerPool({ cacheDir });
    if (neighbour) {
      const { buildJsComponent } = await import('@awasm/plugin-sdk');
      const built = await buildJsComponent({ sourcePath: NEIGHBOUR_SOURCE });
      await pool.load(spec('neighbour', built.bytes, sha256Hex(built.bytes)));
      await pool.call('neighbour', 'list', ['popular', undefined]);
      // V8 goes on compiling the neighbour's hot functions on background threads for up to ~100 ms
      // after its first call, which took both cores from a load started at once (startMs 30-45 ms
      // instead of 7); a server's other sources have been up longer than that
      await new Promise((r) => setTimeout(r, NEIGHBOUR_SETTLE_MS));
    }
    if (runnerUp) {
      const bootDeadline = performance.now() + 5000;
      while (pool.sparesReady() < 1 && performance.now() < bootDeadline) await new Promise((r) => setTimeout(r, 5));
      t0 = performance.now();
    }
    await pool.load(spec('bench', c.bytes, c.digest));
    await pool.call('bench', 'list', ['popular', undefined]);
    const ms = performance.now() - t0;
    const info = pool.loadInfo('bench');
    const engines = pool.enginesCompiled();
    await pool.close();
    return { ms, info, engines };
  },

  /** baseline of (b): jco glue + preview2-shim in-process from the same cached files, to first result */
  async coldPreview2({ guest }) {
    const { TranspileCache } = await import('@awasm/plugin-runner');
    const c = await loadComponent(guest);
    await import('@bytecodealliance/preview2-shim/instantiation');
    const t0 = performance.now();
    const { entry } = await new TranspileCache(wholeCacheDir, { splitAt: Number.POSITIVE_INFINITY }).get(
      c.digest,
      c.bytes,
    );
    const modules = {};
    for (const [name, bytes] of entry.coreModules) modules[name] = await WebAssembly.compile(bytes);
    const api = await preview2Instance(entry, modules);
    api.list('popular', undefined);
    return { ms: performance.now() - t0 };
  },

  /**
   * (c) 8 sources called concurrently, and the host's RSS per warm instance. `perSource` caps the
   * instances per source (default: the runner's); `slow` makes the fixture answer each GET after SLOW_MS.
   */
  async throughput({ port, perSource, slow, guest }) {
    const { RunnerPool } = await import('@awasm/plugin-runner');
    const c = await loadComponent(guest);
    const pool = new RunnerPool({
      cacheDir,
      connectTo: { [`${HOST}:80`]: `127.0.0.1:${port}` },
      ...(perSource ? { instancesPerSource: perSource } : {}),
    });
    const path = slow ? '/slow' : '';
    const ids = Array.from({ length: SOURCES }, (_, i) => `bench-${i}`);
    const rss0 = rssMb();
    for (const id of ids) await pool.load(spec(id, c.bytes, c.digest));
    for (const id of ids) await pool.call(id, 'list', ['popular', undefined]);
    const instances0 = live(pool, ids);
    const rssPerInstance = (rssMb() - rss0) / instances0;

    const direct = directClient(`http://127.0.0.1:${port}${path}`);
    const callers = SOURCES * CALLERS_PER_SOURCE;
    const runFor = async (ms, fn) => {
      const end = performance.now() + ms;
      let done = 0;
      await Promise.all(
        Array.from({ length: callers }, async (_, k) => {
          while (performance.now() < end) {
            await fn(k);
            done++;
          }
        }),
      );
      return done / (ms / 1000);
    };
    const search = (k) => pool.call(ids[k % SOURCES], 'search', [`http://${HOST}${path}`, [], undefined]);
    await runFor(300, search);
    await runFor(300, () => direct.fiveGets());
    const runnerRate = await runFor(N.throughputMs, search);
    const directRate = await runFor(N.throughputMs, () => direct.fiveGets());
    const instances = live(pool, ids);
    direct.close();
    await pool.close();
    return {
      sources: SOURCES,
      concurrentCallers: callers,
      instancesPerSource: perSource ?? 'default',
      upstreamDelayMs: slow ? SLOW_MS : 0,
      searchesPerSecond: { runner: round(runnerRate), directHttp: round(directRate) },
      instancesAfter: instances,
      rssPerWarmInstanceMb: round(rssPerInstance),
      warmInstancesMeasured: instances0,
    };
  },
};

/** Live instances of the sources, from the runner's stats (one per source before warm pools). */
function live(pool, ids) {
  let n = 0;
  for (const id of ids) {
    const s = pool.stats(id);
    n += s && typeof s.instancesLive === 'number' ? s.instancesLive : 1;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// orchestration

/** @param {string} name @param {Record<string, unknown>} args */
function runScenario(name, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        fileURLToPath(import.meta.url),
        '--scenario',
        name,
        JSON.stringify(args),
        ...(quick ? ['--quick'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`scenario ${name} exited with ${code}`));
      const last = out.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(last));
    });
  });
}

async function fixture() {
  const server = http.createServer((req, res) => {
    const m = /^(\/slow)?\/item\/(\d+)$/.exec(req.url ?? '');
    if (!m) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const body = JSON.stringify({ id: Number(m[2]), title: `Item ${m[2]}`, text: 'x'.repeat(512) });
    res.setHeader('content-type', 'application/json');
    if (m[1]) setTimeout(() => res.end(body), SLOW_MS);
    else res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return { server, port: /** @type {import('node:net').AddressInfo} */ (server.address()).port };
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** @param {number} a @param {number} b */
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
/** @param {number} x */
const ms = (x) => `${x.toFixed(x < 1 ? 3 : 2)} ms`;

/**
 * Every scenario for one guest; returns its part of the JSON report and its rows of the table.
 * @param {'js' | 'c'} guest @param {number} port
 */
async function measureGuest(guest, port) {
  // The warm figures pool the samples of several fresh processes: where the kernel places the
  // worker and main threads on 2 cores moves one process's p50 by 10-20%.
  const warmRuns = [];
  for (let i = 0; i < N.warmRuns; i++) warmRuns.push(await runScenario('warm', { port, guest }));
  const pooled = (key) => warmRuns.flatMap((r) => r.samples[key]);
  const warm = {
    search5: {
      runner: summary(pooled('runner')),
      directHttp: summary(pooled('gets')),
      directFetch: summary(pooled('fetches')),
    },
    noIoCall: { runner: summary(pooled('noIo')) },
    steady: { runner: summary(pooled('steadyRunner')), directFetch: summary(pooled('steadyFetches')) },
  };
  const ratiosPerRun = warmRuns.map((r) => round(r.search5.runner.p50 / r.search5.directFetch.p50));
  const p2 = await runScenario('preview2', { port, guest });
  const cold = [];
  const coldBase = [];
  const coldFresh = [];
  // only a JS guest has an engine to share (the C guest's core module is 36 KB, kept whole)
  const coldShared = [];
  for (let i = 0; i < N.cold; i++) {
    cold.push(await runScenario('coldRunner', { guest, runnerUp: true }));
    if (guest === 'js') coldShared.push(await runScenario('coldRunner', { guest, runnerUp: true, neighbour: true }));
    coldFresh.push(await runScenario('coldRunner', { guest, runnerUp: false }));
    coldBase.push(await runScenario('coldPreview2', { guest }));
  }
  const tp = await runScenario('throughput', { port, guest });
  const tp1 = await runScenario('throughput', { port, guest, perSource: 1 });
  const tpSlow = await runScenario('throughput', { port, guest, slow: true });
  const tpSlow1 = await runScenario('throughput', { port, guest, slow: true, perSource: 1 });

  const coldMs = summary(cold.map((r) => r.ms));
  const coldSharedMs = coldShared.length > 0 ? summary(coldShared.map((r) => r.ms)) : undefined;
  if (coldShared.some((r) => r.engines !== 1))
    throw new Error('the neighbour and the bench source did not share one engine');
  const coldWithRunnerMs = summary(coldFresh.map((r) => r.ms));
  const coldBaseMs = summary(coldBase.map((r) => r.ms));
  const med = (key) =>
    round(
      quantile(
        cold.map((r) => r.info[key]),
        0.5,
      ),
    );
  const overheadNoIo = warm.noIoCall.runner.p50 - p2.noIoCall.p50;
  const results = {
    search5Gets: {
      runner: warm.search5.runner,
      directNodeFetch: warm.search5.directFetch,
      directNodeHttp: warm.search5.directHttp,
      preview2Shim: p2.search5,
      ratioToDirectFetchP50: round(warm.search5.runner.p50 / warm.search5.directFetch.p50),
      ratioToDirectHttpP50: round(warm.search5.runner.p50 / warm.search5.directHttp.p50),
      processes: warmRuns.length,
      ratioToDirectFetchP50PerProcess: ratiosPerRun,
      goal: 'runner p50 at most 1.5x the same 5 direct fetches',
    },
    search5GetsBackToBack: {
      runner: warm.steady.runner,
      directNodeFetch: warm.steady.directFetch,
      ratioToDirectFetchP50: round(warm.steady.runner.p50 / warm.steady.directFetch.p50),
    },
    coldStart: {
      runner: coldMs,
      ...(coldSharedMs ? { runnerAnotherJsSourceLoaded: coldSharedMs } : {}),
      runnerIncludingRunnerStart: coldWithRunnerMs,
      runnerBreakdownP50: { transpileMs: med('transpileMs'), compileMs: med('compileMs'), startMs: med('startMs') },
      preview2ShimInProcess: coldBaseMs,
      goal: 'runner p50 under 50 ms',
    },
    warmNoIoCall: {
      runner: warm.noIoCall.runner,
      directInProcess: p2.noIoCall,
      overheadP50: round(overheadNoIo),
      goal: 'runner p50 under 0.2 ms',
    },
    throughput: tp,
    throughputOneInstancePerSource: tp1,
    throughputSlowUpstream: tpSlow,
    throughputSlowUpstreamOneInstancePerSource: tpSlow1,
    rssPerWarmInstanceMb: { runner: tp.rssPerWarmInstanceMb, preview2ShimInProcess: p2.rssPerInstanceMb },
  };
  const g = guest;
  /** a cold-start row, beside the in-process baseline @param {string} what @param {{ p50: number }} cold @param {string} goal */
  const coldRow = (what, cold, goal) => [
    g,
    what,
    ms(cold.p50),
    `${ms(coldBaseMs.p50)} jco + preview2-shim in-process`,
    ratio(cold.p50, coldBaseMs.p50),
    goal,
  ];
  const rows = [
    [
      g,
      'search, 5 sequential GETs, p50 (rounds of 30 interleaved with the baselines)',
      ms(warm.search5.runner.p50),
      `${ms(warm.search5.directFetch.p50)} direct fetch (node:http: ${ms(warm.search5.directHttp.p50)})`,
      `${ratio(warm.search5.runner.p50, warm.search5.directFetch.p50)} (${ratio(warm.search5.runner.p50, warm.search5.directHttp.p50)}); per process ${Math.min(...ratiosPerRun).toFixed(2)}-${Math.max(...ratiosPerRun).toFixed(2)}x`,
      '<= 1.5x',
    ],
    [
      g,
      'same, searches back to back (then fetches back to back), p50',
      ms(warm.steady.runner.p50),
      `${ms(warm.steady.directFetch.p50)} direct fetch`,
      ratio(warm.steady.runner.p50, warm.steady.directFetch.p50),
      '',
    ],
    [
      g,
      'search, 5 sequential GETs, p95',
      ms(warm.search5.runner.p95),
      `${ms(warm.search5.directFetch.p95)} direct fetch (node:http: ${ms(warm.search5.directHttp.p95)})`,
      `${ratio(warm.search5.runner.p95, warm.search5.directFetch.p95)} (${ratio(warm.search5.runner.p95, warm.search5.directHttp.p95)})`,
      '',
    ],
    [
      g,
      'same search through plain preview2-shim, p50',
      ms(warm.search5.runner.p50),
      `${ms(p2.search5.p50)} preview2-shim wasi:http`,
      `${(p2.search5.p50 / warm.search5.runner.p50).toFixed(1)}x faster`,
      '',
    ],
    coldRow('cold start of a source, disk cache to first result, p50', coldMs, '< 50 ms'),
    ...(coldSharedMs
      ? [
          coldRow(
            `same, another JS source loaded, its call ${NEIGHBOUR_SETTLE_MS} ms before (shared engine), p50`,
            coldSharedMs,
            '< 50 ms',
          ),
        ]
      : []),
    coldRow('same, the runner created in the timed span too, p50', coldWithRunnerMs, ''),
    [
      g,
      'warm call, no I/O, p50',
      ms(warm.noIoCall.runner.p50),
      `${ms(p2.noIoCall.p50)} same call in-process`,
      `+${ms(overheadNoIo)}`,
      '< 0.2 ms',
    ],
    [
      g,
      `throughput, ${SOURCES} sources x ${CALLERS_PER_SOURCE} callers, loopback, searches/s`,
      `${tp.searchesPerSecond.runner.toFixed(0)}/s (1 instance/source: ${tp1.searchesPerSecond.runner.toFixed(0)}/s)`,
      `${tp.searchesPerSecond.directHttp.toFixed(0)}/s direct node:http`,
      ratio(tp.searchesPerSecond.runner, tp.searchesPerSecond.directHttp),
      '',
    ],
    [
      g,
      `throughput, same, upstream answering in ${SLOW_MS} ms`,
      `${tpSlow.searchesPerSecond.runner.toFixed(0)}/s (1 instance/source: ${tpSlow1.searchesPerSecond.runner.toFixed(0)}/s)`,
      `${tpSlow.searchesPerSecond.directHttp.toFixed(0)}/s direct node:http`,
      ratio(tpSlow.searchesPerSecond.runner, tpSlow.searchesPerSecond.directHttp),
      '',
    ],
    [
      g,
      'host RSS per warm instance',
      `${tp.rssPerWarmInstanceMb.toFixed(1)} MB`,
      `${p2.rssPerInstanceMb.toFixed(1)} MB per in-process preview2-shim instance`,
      '',
      '',
    ],
  ];
  const breakdown = `${g}: cold start p50 breakdown: read + verify + compile (overlapped) ${med('transpileMs')} ms, then compile ${med('compileMs')} ms, first instance ${med('startMs')} ms`;
  return { results, rows, breakdown };
}

async function main() {
  const started = performance.now();
  // other work on the machine shows in every figure; the baselines share it, so compare ratios
  const loadAverage = os.loadavg()[0];
  const { TranspileCache } = await import('@awasm/plugin-runner');
  /** @type {Record<string, unknown>} */
  const components = {};
  for (const guest of /** @type {const} */ (['js', 'c'])) {
    const c = await loadComponent(guest);
    // make sure the on-disk transpile caches hold the component, so every scenario loads from them
    await new TranspileCache(cacheDir).get(c.digest, c.bytes);
    await new TranspileCache(wholeCacheDir, { splitAt: Number.POSITIVE_INFINITY }).get(c.digest, c.bytes);
    components[guest] = { label: GUESTS[guest].label, bytes: c.bytes.length };
  }
  const { server, port } = await fixture();
  try {
    const js = await measureGuest('js', port);
    const c = await measureGuest('c', port);
    const report = {
      benchmark: 'plugin-runner',
      date: new Date().toISOString(),
      commit: gitCommit(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGb: Math.round(os.totalmem() / 1024 ** 3),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAverage1mAtStart: round(loadAverage),
      },
      quick,
      components,
      results: { js: js.results, c: c.results },
      seconds: round((performance.now() - started) / 1000),
    };

    const rows = [['guest', 'what', 'aWASM runner', 'baseline (same run)', 'ratio', 'goal'], ...js.rows, ...c.rows];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const line = (r) => `| ${r.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
    console.log(line(rows[0]));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows.slice(1)) console.log(line(r));
    for (const guest of /** @type {const} */ (['js', 'c'])) {
      const info = /** @type {{ label: string, bytes: number }} */ (components[guest]);
      console.log(`${guest}: ${info.label}, component ${(info.bytes / 1024).toFixed(0)} KB`);
    }
    console.log(js.breakdown);
    console.log(c.breakdown);
    console.log(
      `${report.machine.cpus} x ${report.machine.cpuModel}, ${report.machine.memoryGb} GB, Node ${process.version}, load average ${report.machine.loadAverage1mAtStart} at start; ${report.seconds} s`,
    );
    if (!quick) {
      await mkdir(join(resultsPath, '..'), { recursive: true });
      await writeFile(resultsPath, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`wrote ${resultsPath.slice(repoRoot.length)}`);
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

const at = process.argv.indexOf('--scenario');
if (at >= 0) {
  const name = process.argv[at + 1];
  const args = JSON.parse(process.argv[at + 2] ?? '{}');
  const fn = scenarios[name];
  if (!fn) throw new Error(`unknown scenario ${name}`);
  const result = await fn(args);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  await main();
}
