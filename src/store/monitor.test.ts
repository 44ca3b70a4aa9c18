import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  findingKey,
  memoryMonitorStore,
  reconcileFindings,
  type Finding,
  type StoredFinding,
} from './monitor.js';

const f = (domain: string, code = 'live-mismatch', subject = 'mx:25 127.0.0.1'): Finding => ({
  domain,
  code,
  subject,
  severity: 'critical',
  message: 'no match',
});
const t = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m));

describe('monitor findings', () => {
  it('keeps first-seen, moves last-seen, recovers what is no longer seen', () => {
    let rows: StoredFinding[] = [];
    const pass = (seen: Finding[], m: number, checked = ['a.test']) => {
      const r = reconcileFindings(rows, seen, new Set(checked), t(m));
      const map = new Map(rows.map((x) => [x.key, x]));
      for (const x of r.rows) map.set(x.key, x);
      rows = [...map.values()];
      return r;
    };
    const one = pass([f('a.test')], 0);
    assert.equal(one.opened.length, 1);
    const two = pass([f('a.test')], 5);
    assert.equal(two.opened.length, 0);
    assert.equal(rows[0]!.firstSeen, t(0).toISOString());
    assert.equal(rows[0]!.lastSeen, t(5).toISOString());
    // a domain that could not be checked keeps its findings open
    const blind = pass([], 10, []);
    assert.equal(blind.recovered.length, 0);
    assert.equal(rows[0]!.recoveredAt, null);
    const three = pass([], 15);
    assert.equal(three.recovered.length, 1);
    assert.equal(rows[0]!.recoveredAt, t(15).toISOString());
    assert.equal(pass([], 20).recovered.length, 0, 'recovered once');
    // back again: new first-seen
    const four = pass([f('a.test')], 25);
    assert.equal(four.opened.length, 1);
    assert.equal(rows[0]!.firstSeen, t(25).toISOString());
  });

  it('stores findings, watched domains, sent notices and the event cursor', () => {
    const m = memoryMonitorStore();
    assert.equal(m.watch('Partner.Example.', t(0)), true);
    assert.equal(m.watch('partner.example', t(1)), false);
    assert.deepEqual(m.watched(), [{ name: 'partner.example', addedAt: t(0).toISOString() }]);
    const r = m.record([f('partner.example')], new Set(['partner.example']), t(2));
    assert.equal(r.opened.length, 1);
    assert.equal(r.open[0]!.key, findingKey(f('partner.example')));
    const again = m.record([], new Set(['partner.example']), t(3));
    assert.equal(again.recovered.length, 1);
    assert.equal(again.open.length, 0);
    assert.equal(m.findings().length, 1);
    m.saveSent(
      [
        {
          key: 'k',
          domain: 'partner.example',
          kind: 'live-mismatch',
          title: 'x',
          openedAt: t(0).toISOString(),
          lastSent: t(0).toISOString(),
          reminders: 0,
          told: 'recovered',
          windowStart: t(0).toISOString(),
          windowCount: 2,
        },
      ],
      [],
    );
    assert.deepEqual(
      m.sent().map((x) => [x.key, x.told, x.windowCount]),
      [['k', 'recovered', 2]],
    );
    m.saveSent([], ['k']);
    assert.equal(m.sent().length, 0);
    m.saveSent(
      [
        {
          key: 'k2',
          domain: 'partner.example',
          kind: 'live-mismatch',
          title: 'x',
          openedAt: t(0).toISOString(),
          lastSent: t(0).toISOString(),
          reminders: 0,
          told: 'recovered',
          windowStart: t(0).toISOString(),
          windowCount: 2,
        },
      ],
      [],
    );
    assert.equal(m.cursor('events'), null);
    m.setCursor('events', 7);
    assert.equal(m.cursor('events'), 7);
    assert.equal(m.unwatch('partner.example'), true);
    assert.equal(m.findings().length, 0, 'findings go with the watched domain');
    assert.equal(m.sent().length, 0, 'and what was sent: no recovery notice for it');
    assert.equal(m.unwatch('partner.example'), false);
    m.close();
  });
});
