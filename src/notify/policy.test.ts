import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SentRow } from '../store/monitor.js';
import {
  batchNotices,
  decideNotifications,
  MAX_CHANGES_PER_WINDOW,
  type Notice,
  type Problem,
} from './policy.js';

const H = 3_600_000;
const t0 = new Date('2026-01-10T00:00:00Z');
const at = (h: number) => new Date(t0.getTime() + h * H);
const problem = (key = 'a.test|live-mismatch|mx'): Problem => ({
  key,
  domain: key.split('|')[0]!,
  kind: 'live-mismatch',
  title: 'Live certificate does not match',
  text: 'mx presents another chain',
  since: t0.toISOString(),
});

/** Runs the policy over a sequence of passes, keeping the sent-state as the notifier does. */
function drive(passes: { h: number; problems: Problem[]; inSight?: (d: string) => boolean }[]) {
  let sent: SentRow[] = [];
  const out: Notice[][] = [];
  for (const p of passes) {
    const d = decideNotifications({
      now: at(p.h),
      problems: p.problems,
      sent,
      reminderMs: 24 * H,
      ...(p.inSight ? { inSight: p.inSight } : {}),
    });
    const keep = new Map(sent.map((s) => [s.key, s]));
    for (const u of d.upserts) keep.set(u.key, u);
    for (const k of d.deletes) keep.delete(k);
    sent = [...keep.values()];
    out.push(d.notices);
  }
  return out;
}

describe('notification policy', () => {
  it('sends one message per problem, however many passes see it within a day', () => {
    const passes = [0, 0.25, 1, 12, 23.9].map((h) => ({ h, problems: [problem()] }));
    const sent = drive(passes);
    assert.deepEqual(
      sent.map((n) => n.map((x) => x.type)),
      [['problem'], [], [], [], []],
    );
  });

  it('reminds at most daily, counted from the last message', () => {
    const sent = drive([0, 24, 30, 47.9, 48].map((h) => ({ h, problems: [problem()] })));
    assert.deepEqual(
      sent.map((n) => n.map((x) => x.type)),
      [['problem'], ['reminder'], [], [], ['reminder']],
    );
  });

  it('sends the recovery once, and a problem that comes back is news again', () => {
    const sent = drive([
      { h: 0, problems: [problem()] },
      { h: 1, problems: [] },
      { h: 2, problems: [] },
      { h: 3, problems: [problem()] },
    ]);
    assert.deepEqual(
      sent.map((n) => n.map((x) => x.type)),
      [['problem'], ['recovery'], [], ['problem']],
    );
    assert.match(sent[1]![0]!.title, /^Recovered: /);
  });

  it('neither reminds nor recovers a domain the pass did not look at', () => {
    const blind = () => false;
    const sent = drive([
      { h: 0, problems: [problem()] },
      { h: 30, problems: [], inSight: blind },
      { h: 31, problems: [problem()], inSight: blind },
      { h: 32, problems: [] },
    ]);
    assert.deepEqual(
      sent.map((n) => n.map((x) => x.type)),
      [['problem'], [], [], ['recovery']],
    );
  });

  it('keeps problems apart by key: two problems, two messages, one recovery each', () => {
    const a = problem('a.test|live-mismatch|mx');
    const b = problem('b.test|serial-behind|ns2');
    const sent = drive([
      { h: 0, problems: [a, b] },
      { h: 1, problems: [b] },
    ]);
    assert.deepEqual(
      sent.map((n) => n.map((x) => `${x.type} ${x.domain}`)),
      [['problem a.test', 'problem b.test'], ['recovery a.test']],
    );
  });

  it('a problem that comes and goes every pass is held back after a few changes, then told once settled', () => {
    // every 10 minutes: there, gone, there, gone, ... for 3 hours, then gone for good
    const passes = Array.from({ length: 18 }, (_, k) => ({
      h: k / 6,
      problems: k % 2 === 0 ? [problem()] : [],
    }));
    passes.push({ h: 24.5, problems: [] }, { h: 25, problems: [] }, { h: 49, problems: [] });
    const sent = drive(passes).map((n) => n.map((x) => x.type).join());
    const told = sent.filter((x) => x !== '');
    assert.equal(told.length, MAX_CHANGES_PER_WINDOW, sent.join('|'));
    assert.deepEqual(told.slice(0, 4), ['problem', 'recovery', 'problem', 'recovery']);
    // the 4th message says further changes are held back; then nothing until the window ends
    const flat = drive(passes).flat();
    assert.match(flat[3]!.text, /held back until 2026-01-11T00:00:00\.000Z/);
    // held back while it flapped, told once it settled (it was last told recovered, and is gone:
    // nothing to tell), and forgotten after a quiet day
    assert.deepEqual(sent.slice(18), ['', '', '']);
  });

  it('a held-back reappearance is told when the window ends', () => {
    const passes = [0, 1, 2, 3].map((h) => ({ h, problems: h % 2 === 0 ? [problem()] : [] }));
    // told: problem, recovery, problem, recovery (4 = the limit); back at 5 h: held back
    passes.push({ h: 5, problems: [problem()] }, { h: 23, problems: [problem()] });
    passes.push({ h: 24.1, problems: [problem()] });
    const sent = drive(passes).map((n) => n.map((x) => x.type).join());
    assert.deepEqual(sent, ['problem', 'recovery', 'problem', 'recovery', '', '', 'problem']);
  });

  it('never a storm: many notices in one pass go out as one digest', () => {
    const many = Array.from({ length: 40 }, (_, i) => problem(`d${i}.test|unreachable|mx`));
    const [first] = drive([{ h: 0, problems: many }]);
    assert.equal(first!.length, 40);
    assert.equal(batchNotices(first!, 5).length, 1);
    assert.equal(batchNotices(first!.slice(0, 3), 5).length, 3);
  });
});
