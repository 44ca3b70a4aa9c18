import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler } from './scheduler.js';

/** A hand-driven clock: timers fire only when the test advances time. */
function fakeTime(start = 1_000_000) {
  let t = start;
  let seq = 0;
  const timers = new Map<number, { at: number; f: () => void }>();
  return {
    now: () => t,
    setTimer: (f: () => void, ms: number) => {
      const id = ++seq;
      timers.set(id, { at: t + ms, f });
      return id;
    },
    clearTimer: (id: unknown) => void timers.delete(id as number),
    /** moves the clock to `to`, firing due timers in order and letting jobs settle */
    async advance(ms: number) {
      const to = t + ms;
      for (;;) {
        await new Promise((r) => setImmediate(r));
        const due = [...timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
        if (!due || due[1].at > to) break;
        timers.delete(due[0]);
        t = Math.max(t, due[1].at);
        due[1].f();
      }
      t = to;
      await new Promise((r) => setImmediate(r));
    },
    pending: () => timers.size,
  };
}

describe('Scheduler', () => {
  it('runs a job at start, then every interval plus jitter', async () => {
    const ft = fakeTime();
    const s = new Scheduler({ ...ft, random: () => 0.5 });
    const runs: number[] = [];
    s.add(
      'pass',
      async () => {
        runs.push(ft.now());
      },
      60_000,
      { jitterMs: 10_000 },
    );
    s.start();
    await ft.advance(0);
    assert.deepEqual(runs, [1_000_000]);
    await ft.advance(64_999);
    assert.equal(runs.length, 1);
    await ft.advance(1);
    assert.deepEqual(runs, [1_000_000, 1_065_000]);
    await s.stop();
  });

  it('wakes at the deadline a job returns when it is earlier than the interval, never in a tight loop', async () => {
    const ft = fakeTime();
    const s = new Scheduler({ ...ft, random: () => 0, minDelayMs: 1000 });
    const runs: number[] = [];
    const deadlines = [ft.now() + 5000, ft.now() - 99_999, null];
    s.add(
      'pass',
      async () => {
        runs.push(ft.now());
        const d = deadlines.shift();
        return d === null || d === undefined ? null : new Date(d);
      },
      3_600_000,
    );
    s.start();
    await ft.advance(0);
    await ft.advance(5000);
    // the second run returned a deadline in the past: one minDelay later, not at once
    await ft.advance(999);
    assert.equal(runs.length, 2);
    await ft.advance(1);
    assert.deepEqual(runs, [1_000_000, 1_005_000, 1_006_000]);
    // no deadline: the regular interval
    assert.equal(s.schedule().pass, 1_006_000 + 3_600_000);
    await s.stop();
  });

  it('runs jobs one at a time; a second job added with one call runs on its own interval', async () => {
    const ft = fakeTime();
    const s = new Scheduler({ ...ft, random: () => 0 });
    const log: string[] = [];
    let release!: () => void;
    s.add(
      'pass',
      async () => {
        log.push('pass start');
        await new Promise<void>((r) => (release = r));
        log.push('pass end');
      },
      10_000,
      { jitterMs: 0 },
    );
    s.add(
      'monitor',
      async () => {
        log.push('monitor');
      },
      1000,
      { jitterMs: 0 },
    );
    s.start();
    await ft.advance(3000);
    assert.deepEqual(log, ['pass start'], 'monitor waits while the pass runs');
    release();
    await ft.advance(0);
    assert.deepEqual(log, ['pass start', 'pass end', 'monitor']);
    await ft.advance(1000);
    assert.deepEqual(log.slice(3), ['monitor']);
    await s.stop();
  });

  it('stop() aborts the running job signal, waits for it, and runs nothing after', async () => {
    const ft = fakeTime();
    const s = new Scheduler({ ...ft });
    let sawAbort = false;
    let runs = 0;
    s.add(
      'pass',
      async ({ signal }) => {
        runs++;
        await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
        sawAbort = signal.aborted;
      },
      1000,
    );
    s.start();
    await ft.advance(0);
    assert.equal(s.running(), 'pass');
    await s.stop();
    assert.ok(sawAbort);
    assert.equal(s.running(), null);
    await ft.advance(10_000);
    assert.equal(runs, 1);
    assert.equal(ft.pending(), 0);
  });

  it('a job that throws is reported and scheduled again', async () => {
    const ft = fakeTime();
    const errors: string[] = [];
    const s = new Scheduler({
      ...ft,
      random: () => 0,
      onError: (n, e) => errors.push(`${n}: ${String(e)}`),
    });
    let runs = 0;
    s.add(
      'pass',
      async () => {
        runs++;
        throw new Error('boom');
      },
      1000,
      { jitterMs: 0 },
    );
    s.start();
    await ft.advance(1000);
    assert.equal(runs, 2);
    assert.equal(errors[0], 'pass: Error: boom');
    await s.stop();
  });

  it('wake() brings a job forward; a long interval does not overflow the timer', async () => {
    const ft = fakeTime();
    const s = new Scheduler({ ...ft, random: () => 0 });
    let runs = 0;
    s.add(
      'pass',
      async () => {
        runs++;
      },
      40 * 86_400_000,
      { runAtStart: false, jitterMs: 0 },
    );
    s.start();
    await ft.advance(1000);
    assert.equal(runs, 0);
    s.wake('pass');
    await ft.advance(0);
    assert.equal(runs, 1);
    assert.throws(() => s.add('pass', async () => {}, 1), /exists already/);
    await s.stop();
  });

  it('a wake() while the job runs (a renew asked mid-pass) runs it again right after, not at the interval', async () => {
    const ft = fakeTime();
    const s = new Scheduler({ ...ft, random: () => 0 });
    const runs: number[] = [];
    let finish!: () => void;
    s.add(
      'pass',
      () => {
        runs.push(ft.now());
        return new Promise<void>((r) => (finish = r));
      },
      3_600_000,
      { jitterMs: 0 },
    );
    s.start();
    await ft.advance(0);
    assert.equal(runs.length, 1);
    await ft.advance(5000);
    s.wake('pass');
    await ft.advance(5000);
    assert.equal(runs.length, 1, 'jobs never overlap');
    finish();
    await ft.advance(0);
    assert.deepEqual(runs, [1_000_000, 1_010_000], 'the woken run follows the running one');
    finish();
    await ft.advance(0);
    assert.equal(s.schedule().pass, 1_010_000 + 3_600_000, 'then the interval again');
    await s.stop();
  });
});
