import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HashJob, HashReply, HashWorkerData } from './hash-worker.ts';

/** A worker with nothing to do for this long is stopped (the next large file starts it again). */
export const POOL_IDLE_MS = 1000;

/**
 * How many threads hash large files: one per core, at most two. With two, a capture whose uploads have little to do
 * (contents already stored) hashes on both cores of a 2-core machine; during uploads the hashing shares the cores
 * with them either way (one or two threads measured the same there, docs/benchmarks.md "Hashing on both cores").
 */
export function defaultPoolSize(): number {
  return Math.min(2, availableParallelism());
}

interface Task {
  job: HashJob;
  resolve: (r: HashReply) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

/**
 * Worker threads that hash whole files (hash-worker.ts). Threads start when the first file is queued, never
 * before, so a CLI run that hashes nothing large starts none. A thread holds the process open only while it hashes
 * (unref'd otherwise) and stops after POOL_IDLE_MS without work.
 */
export class HashPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Threads started over the pool's life (tests check that an idle CLI starts none). */
  started = 0;

  constructor(
    readonly size: number,
    private readonly workerData: HashWorkerData,
  ) {}

  hash(abs: string, md5: boolean): Promise<HashReply> {
    return new Promise<HashReply>((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, abs, md5 }, resolve, reject });
      this.dispatch();
    });
  }

  /** Threads running now. */
  get threads(): number {
    return this.slots.length;
  }

  /** Stops every thread; files queued or being hashed fail. A later hash starts new threads. */
  async close(): Promise<void> {
    this.clearIdle();
    const slots = this.slots.splice(0);
    const stopped = new Error('hash pool closed');
    for (const task of [...slots.map((s) => s.task), ...this.queue.splice(0)]) task?.reject(stopped);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    this.clearIdle();
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.task === null);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift() as Task;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage(task.job);
    }
    if (this.slots.every((s) => s.task === null)) this.armIdle();
  }

  private spawn(): Slot {
    const worker = startWorker(this.workerData);
    this.started += 1;
    const slot: Slot = { worker, task: null };
    this.slots.push(slot);
    worker.on('message', (reply: HashReply) => {
      const task = slot.task;
      slot.task = null;
      worker.unref();
      if (task && task.job.id === reply.id) task.resolve(reply);
      this.dispatch();
    });
    // A thread that dies takes its file with it: that file fails, the others go to a new thread.
    const gone = (err: unknown) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      const task = slot.task;
      slot.task = null;
      task?.reject(err);
      this.dispatch();
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`hash worker exited (code ${code})`)));
    return slot;
  }

  private armIdle(): void {
    if (this.slots.length === 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      void this.close();
    }, POOL_IDLE_MS);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

let workerSource: string | null = null;

/**
 * The bundle runs cli/dist/hash-worker.js beside it (scripts/build.mjs). From TS sources (the unit tests) Node 20
 * cannot load the .ts file, so it is transpiled with esbuild, a dev dependency of the checkout.
 */
function startWorker(workerData: HashWorkerData): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(fileURLToPath(new URL('./hash-worker.js', import.meta.url)), { workerData });
  }
  workerSource ??= transpile(fileURLToPath(new URL('./hash-worker.ts', import.meta.url)));
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource)}`), { workerData });
}

function transpile(file: string): string {
  // Not a static import: the bundle must not contain esbuild, and it never takes this path.
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  return esbuild.transformSync(readFileSync(file, 'utf8'), { loader: 'ts', format: 'esm', target: 'node20' }).code;
}
