/**
 * The scheduler of `danekeeper serve` (issue 10 item 1): named periodic jobs, run one at a
 * time. A job runs again after its interval plus a random jitter, or earlier when it returns a
 * deadline (the keep-secured pass returns the earliest `until` its domains report: the end of
 * a confirmation wait, a retry time, the ARI moment). Another periodic job (monitoring) is one
 * more `add(name, fn, intervalMs)`.
 *
 * Jobs never overlap: a pass and a monitoring round that both write the store, or two passes
 * that both reach for a domain's lease, would only make each other wait. `stop()` lets the
 * running job finish (its AbortSignal tells it to stop after its current step) and starts no
 * other.
 *
 * Clock, timers and randomness are handed in, so the tests drive time by hand.
 */

export type JobFn = (ctx: { signal: AbortSignal }) => Promise<Date | null | void>;

export interface JobOptions {
  /** the run after this one is moved later by up to this much, at random. Default: a tenth of the interval */
  jitterMs?: number;
  /** first run at start (default true); false: after one interval */
  runAtStart?: boolean;
}

export interface SchedulerOptions {
  now?: () => number;
  random?: () => number;
  setTimer?: (f: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** a deadline in the past (or now) runs this long after the job ended, not in a tight loop. Default 1 s */
  minDelayMs?: number;
  /** a job threw: the scheduler carries on with the next run */
  onError?: (name: string, e: unknown) => void;
  /** a job ended (for logs) */
  onRun?: (name: string, info: { startedAt: number; durationMs: number; next: number }) => void;
}

interface Job {
  name: string;
  fn: JobFn;
  intervalMs: number;
  jitterMs: number;
  due: number;
  /** a wake() that came while the job ran: the run it asks for is still owed */
  wokenAt: number | null;
}

// setTimeout keeps a 32-bit signed delay; a longer one fires at once
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler {
  private readonly jobs = new Map<string, Job>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly setTimer: (f: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;
  private readonly minDelayMs: number;
  private timer: unknown = null;
  private started = false;
  private stopping = false;
  private current: { name: string; done: Promise<void>; abort: AbortController } | null = null;

  constructor(private readonly o: SchedulerOptions = {}) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.setTimer = o.setTimer ?? ((f, ms) => setTimeout(f, ms));
    this.clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
    this.minDelayMs = o.minDelayMs ?? 1000;
  }

  /** Adds a periodic job; its first run is at start (or one interval later). */
  add(name: string, fn: JobFn, intervalMs: number, opts: JobOptions = {}): void {
    if (this.jobs.has(name)) throw new Error(`scheduler: a job named ${name} exists already`);
    if (!(intervalMs > 0)) throw new Error(`scheduler: interval of ${name} must be positive`);
    const jitterMs = opts.jitterMs ?? Math.round(intervalMs / 10);
    this.jobs.set(name, {
      name,
      fn,
      intervalMs,
      jitterMs,
      due: opts.runAtStart === false ? this.now() + intervalMs : this.now(),
      wokenAt: null,
    });
    if (this.started) this.arm();
  }

  /** Runs `name` at `at` (default now) unless it is due earlier already. */
  wake(name: string, at: number = this.now()): void {
    const j = this.jobs.get(name);
    if (!j) return;
    // while it runs, the run's end sets the next due time: remember the wake past it (the
    // change that asked for it may have come after the running pass looked)
    if (this.current?.name === name) j.wokenAt = Math.min(j.wokenAt ?? at, at);
    j.due = Math.min(j.due, at);
    if (this.started) this.arm();
  }

  /** When each job runs next (ms since the epoch), for status and tests. */
  schedule(): Record<string, number> {
    return Object.fromEntries([...this.jobs.values()].map((j) => [j.name, j.due]));
  }

  /** The job running now, if any. */
  running(): string | null {
    return this.current?.name ?? null;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm();
  }

  /** No further runs; the running job is asked to stop after its current step and awaited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    const c = this.current;
    if (c) {
      c.abort.abort();
      await c.done;
    }
  }

  private arm(): void {
    if (this.stopping || this.current) return;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    const next = [...this.jobs.values()].sort((a, b) => a.due - b.due)[0];
    if (!next) return;
    const delay = Math.min(Math.max(0, next.due - this.now()), MAX_TIMER_MS);
    this.timer = this.setTimer(() => {
      this.timer = null;
      if (next.due > this.now()) this.arm();
      else this.runJob(next);
    }, delay);
  }

  private runJob(j: Job): void {
    const abort = new AbortController();
    const startedAt = this.now();
    const done = (async () => {
      let asked: number | null = null;
      try {
        const r = await j.fn({ signal: abort.signal });
        if (r instanceof Date && Number.isFinite(r.getTime())) asked = r.getTime();
      } catch (e) {
        this.o.onError?.(j.name, e);
      }
      const end = this.now();
      const regular = end + j.intervalMs + Math.floor(this.random() * j.jitterMs);
      // a deadline that is now or past still leaves minDelayMs: a planner whose wait ends
      // "now" must not spin the process
      j.due = asked === null ? regular : Math.min(regular, Math.max(asked, end + this.minDelayMs));
      if (j.wokenAt !== null) j.due = Math.min(j.due, Math.max(j.wokenAt, end));
      j.wokenAt = null;
      this.o.onRun?.(j.name, { startedAt, durationMs: end - startedAt, next: j.due });
    })();
    this.current = { name: j.name, done, abort };
    void done.then(() => {
      this.current = null;
      this.arm();
    });
  }
}
