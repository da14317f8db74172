import { MessageChannel, type TransferListItem, Worker } from 'node:worker_threads';
import { usableCores } from './cpu-quota.js';
import type { HttpAttachment, SourceHttp } from './http-host.js';
import type { Logger } from './logger.js';
import { channelBuffer } from './worker/http-channel.mjs';
import {
  type CoreModules,
  type EngineCoreModule,
  FromWorker,
  type RunnerMessage,
  type SpinGate,
  ToWorker,
  type WorkerMessage,
  type WorkerReply,
} from './worker/messages.mjs';

export type { CoreModules, EngineCoreModule, SpinGate, WorkerReply };

/** The worker entry; a plain .mjs file so it runs the same from src/ and from dist/. */
const WORKER_URL = new URL('./worker/worker.mjs', import.meta.url);

/** stdout + stderr + log bytes a plugin may send to the host log per call; the rest is dropped. */
export const OUTPUT_BYTES_PER_CALL = 64 * 1024;
/** The JS heap of a source's worker (the glue, results, HTTP buffers); wasm memory is capped apart. */
const WORKER_HEAP_MB = 256;
/** How long a new instance may take to start before it is given up. */
const START_TIMEOUT_MS = 30_000;
/** The longest a taken spare's replacement waits for the start of the instance that took it. */
const REFILL_WAIT_MAX_MS = 1000;
/** The longest wait before booting a spare again after spares died unused. */
const SPARE_RETRY_MAX_MS = 30_000;
/** Output of the worker's own console (jco's glue) forwarded to the debug log, per worker. */
const CONSOLE_BYTES = 16 * 1024;

export interface WorkerSetup {
  sourceId: string;
  generation: number;
  componentUrl: string;
  /** the compiled core modules, or a promise of them: the worker starts and loads the glue meanwhile */
  modules: CoreModules | Promise<CoreModules>;
  settings: Record<string, string>;
  maxRequestBodyBytes: number;
  http: SourceHttp;
  /** the deadline (epoch ms) of the call in progress, bounding each request's time */
  deadline: () => number;
  /** the host refused a request of the call in progress for want of a rate-limit slot */
  onRateLimited?: (retryAfterSeconds: number) => void;
  logger: Logger;
  /** when the worker may spin waiting for an HTTP answer (see spinGate) */
  spin: SpinGate;
}

/**
 * The gate SourceWorker.run counts calls on: `slots` is the cores besides the main thread (a
 * container's CPU quota counted), so a worker's spin never takes a core another call needs.
 */
export function spinGate(micros: number): SpinGate {
  return { running: new SharedArrayBuffer(4), micros, slots: usableCores() - 1 };
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

/**
 * A worker thread that has booted Node and the import object, and waits for its setup message.
 * Nothing of a plugin is in it yet, so it can serve any source.
 */
function bootWorker(): Worker {
  return new Worker(WORKER_URL, {
    name: 'awasm-source',
    env: {},
    argv: [],
    execArgv: [],
    stdin: false,
    stdout: true,
    stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 32 },
  });
}

/**
 * Booted workers kept ready, so starting an instance (a load, a replacement after a trap, one more
 * instance for a busy source) does not wait for a thread to boot, most of an instance's start once
 * the component is compiled. A spare costs an idle Node thread; it does not keep the process alive.
 */
export class SpareWorkers {
  private readonly ready: Worker[] = [];
  /** spares that have finished booting (their worker.mjs waits for a setup) */
  private readonly booted = new WeakSet<Worker>();
  private closed = false;
  private refilling = false;
  /** spares that died before they were taken, in a row: each doubles the wait before booting again */
  private deaths = 0;

  constructor(private readonly count: number) {
    if (!Number.isInteger(count) || count < 0) throw new Error(`spare workers must be a whole number, got ${count}`);
    this.refill();
  }

  /**
   * A booted worker, if one is ready. Another is booted in its place once `started` (the start of
   * the instance that asked) settles, or after REFILL_WAIT_MAX_MS: a thread's boot takes CPU, and
   * one booted at once would slow that start, a load's critical path, on a machine with few cores.
   */
  take(started: Promise<unknown>): Worker | undefined {
    // one that has finished booting first; one still booting is still ahead of a new boot
    const at = this.ready.findIndex((w) => this.booted.has(w));
    const worker = this.ready.splice(Math.max(0, at), 1)[0];
    if (worker) {
      worker.removeAllListeners('error');
      worker.removeAllListeners('exit');
      worker.removeAllListeners('message');
      this.deaths = 0;
    }
    let waiting = true;
    const refill = () => {
      if (!waiting) return;
      waiting = false;
      clearTimeout(timer);
      this.scheduleRefill();
    };
    const timer = setTimeout(refill, REFILL_WAIT_MAX_MS).unref();
    started.then(refill, refill);
    return worker;
  }

  /** Spares that have finished booting. */
  get available(): number {
    let n = 0;
    for (const worker of this.ready) if (this.booted.has(worker)) n++;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const worker of this.ready.splice(0)) void worker.terminate();
  }

  private scheduleRefill(): void {
    if (this.refilling || this.closed) return;
    this.refilling = true;
    const again = () => {
      this.refilling = false;
      this.refill();
    };
    // after the current turn: booting competes for the CPU with the start that took the spare;
    // spares that keep dying (a thread that cannot boot) are not rebooted in a tight loop
    if (this.deaths === 0) setImmediate(again);
    else setTimeout(again, Math.min(SPARE_RETRY_MAX_MS, 100 * 2 ** this.deaths)).unref();
  }

  private refill(): void {
    while (!this.closed && this.ready.length < this.count) {
      const worker = bootWorker();
      worker.unref();
      const drop = () => {
        const i = this.ready.indexOf(worker);
        if (i >= 0) this.ready.splice(i, 1);
        if (!this.closed) this.deaths++;
        this.scheduleRefill();
      };
      worker.once('error', drop);
      worker.once('exit', drop);
      worker.on('message', (msg: WorkerMessage | undefined) => {
        if (msg?.type === FromWorker.IDLE) this.booted.add(worker);
      });
      this.ready.push(worker);
    }
  }
}

/**
 * One instance of a source in its own worker thread. Calls run one at a time; `kill` terminates the
 * thread (which also stops a wasm loop) and detaches its HTTP port, aborting requests in flight.
 */
export class SourceWorker {
  readonly ready: Promise<void>;
  dead = false;
  private readonly worker: Worker;
  private readonly http: HttpAttachment;
  private pending: { id: number; resolve: (r: WorkerReply) => void } | undefined;
  private nextId = 1;
  private deathReason = 'the instance stopped';
  /** calls running in the runner (SpinGate.running), counted up and down by run() */
  private readonly running: Int32Array;

  constructor(
    private readonly setup: WorkerSetup,
    spares?: SpareWorkers,
  ) {
    this.running = new Int32Array(setup.spin.running);
    const { port1, port2 } = new MessageChannel();
    // the signal word the worker blocks on, and the mailbox for response events
    const signal = channelBuffer();
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.worker = spares?.take(this.ready) ?? bootWorker();
    this.worker.ref();
    this.send(
      {
        type: ToWorker.SETUP,
        setup: {
          componentUrl: setup.componentUrl,
          modules: setup.modules instanceof Promise ? undefined : setup.modules,
          settings: setup.settings,
          signal,
          httpPort: port2,
          maxRequestBodyBytes: setup.maxRequestBodyBytes,
          outputBytesPerCall: OUTPUT_BYTES_PER_CALL,
          spin: setup.spin,
        },
      },
      [port2],
    );
    if (setup.modules instanceof Promise) {
      setup.modules.then(
        (modules) => {
          if (!this.dead) this.send({ type: ToWorker.MODULES, modules });
        },
        (err: Error) => this.kill(`the component could not be compiled: ${err.message}`),
      );
    }
    this.http = setup.http.attach(port1, new Int32Array(signal), setup.deadline, setup.onRateLimited);
    this.forwardConsole();

    const started = settle as { resolve: () => void; reject: (e: Error) => void };
    const startTimer = setTimeout(() => {
      this.kill(`the instance did not start within ${START_TIMEOUT_MS} ms`);
      started.reject(new Error(this.deathReason));
    }, START_TIMEOUT_MS);
    this.ready.then(
      () => clearTimeout(startTimer),
      () => clearTimeout(startTimer),
    );

    this.worker.on('message', (msg: WorkerMessage) => {
      switch (msg.type) {
        case FromWorker.READY:
          started.resolve();
          break;
        case FromWorker.INIT_ERROR:
          this.deathReason = `the instance failed to start: ${msg.message}`;
          started.reject(new Error(this.deathReason));
          this.kill(this.deathReason);
          break;
        case FromWorker.RESULT: {
          const p = this.pending;
          if (p && p.id === msg.id) {
            this.pending = undefined;
            p.resolve(msg);
          }
          break;
        }
        case FromWorker.LOG: {
          const level = LEVELS.has(msg.level) ? (msg.level as keyof Logger) : 'info';
          setup.logger[level]({ source: setup.sourceId, from: 'plugin' }, String(msg.message));
          break;
        }
        case FromWorker.OUTPUT:
          setup.logger.info({ source: setup.sourceId, stream: msg.stream }, String(msg.text).replace(/\n$/, ''));
          break;
      }
    });
    this.worker.on('error', (err: Error & { code?: string }) => {
      const reason =
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `the instance ran out of host heap (${WORKER_HEAP_MB} MB)`
          : `the instance failed: ${err.message}`;
      this.die(reason);
      started.reject(new Error(this.deathReason));
    });
    this.worker.on('exit', (code) => {
      this.die(`the instance exited (code ${code})`);
      started.reject(new Error(this.deathReason));
    });
  }

  private send(message: RunnerMessage, transfer?: TransferListItem[]): void {
    this.worker.postMessage(message, transfer);
  }

  private forwardConsole(): void {
    let left = CONSOLE_BYTES;
    const forward = (stream: string) => (chunk: Buffer) => {
      if (left <= 0) return;
      const text = chunk.subarray(0, left).toString('utf8');
      left -= chunk.length;
      this.setup.logger.debug({ source: this.setup.sourceId, stream, from: 'glue' }, text.replace(/\n$/, ''));
    };
    this.worker.stdout.on('data', forward('stdout'));
    this.worker.stderr.on('data', forward('stderr'));
  }

  private die(reason: string): void {
    if (!this.dead) {
      this.dead = true;
      this.deathReason = reason;
      this.http.detach();
    }
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      p.resolve({ ok: false, dropped: 0, error: { kind: 'trap', message: this.deathReason } });
    }
  }

  /** Runs one call; resolves with the reply, or a trap reply if the instance dies first. */
  run(op: string, args: unknown[]): Promise<WorkerReply> {
    if (this.dead)
      return Promise.resolve({ ok: false, dropped: 0, error: { kind: 'trap', message: this.deathReason } });
    if (this.pending) throw new Error('a call is already running on this instance');
    const id = this.nextId++;
    const running = this.running;
    // the requests of a call given up before this one were refused until now
    this.http.callStarted();
    return new Promise<WorkerReply>((resolve) => {
      Atomics.add(running, 0, 1);
      // settled once: by the reply, or by the worker's death
      this.pending = {
        id,
        resolve: (reply) => {
          Atomics.sub(running, 0, 1);
          resolve(reply);
        },
      };
      this.send({ type: ToWorker.CALL, id, op, args });
    });
  }

  setSettings(settings: Record<string, string>): void {
    if (!this.dead) this.send({ type: ToWorker.SETTINGS, settings });
  }

  /**
   * The call in progress was given up by its caller: its queued and in-flight requests are aborted
   * (the guest gets an error for each) and new ones refused until the next run(), so the guest
   * returns soon; the thread lives on. The reply still comes through run()'s promise.
   */
  cancel(): void {
    if (!this.dead && this.pending) this.http.cancelCall();
  }

  /** Terminates the thread; a call in progress resolves as a trap with `reason`. */
  kill(reason: string): void {
    this.die(reason);
    void this.worker.terminate();
  }
}
