import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainSettings } from '../store/domains.js';
import { memoryMonitorStore } from '../store/monitor.js';
import { memoryState } from '../store/state.js';
import type { Payload } from './message.js';
import { runNotifyPass, type Channels } from './notifier.js';
import type { Problem } from './policy.js';

const H = 3_600_000;
const T0 = new Date('2026-03-01T00:00:00.000Z');
const at = (h: number) => new Date(T0.getTime() + h * H);

function settings(name = 'example.org'): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: `/tmp/live/${name}`,
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

function fakeChannels(state: { mailUp: boolean; hookUp: boolean }) {
  const mails: { subject: string; text: string }[] = [];
  const hooks: Payload[] = [];
  const channels: Channels = {
    mail: async (m) => {
      if (!state.mailUp) throw new Error('relay down');
      mails.push(m);
    },
    webhook: async (body) => {
      if (!state.hookUp) throw new Error('hook down');
      hooks.push(JSON.parse(body) as Payload);
    },
  };
  return { mails, hooks, channels };
}

function world() {
  const state = memoryState();
  state.domains.add(settings(), T0);
  const monitor = memoryMonitorStore();
  const up = { mailUp: true, hookUp: true };
  const fake = fakeChannels(up);
  let now = T0;
  const pass = (problems: Problem[] = []) =>
    runNotifyPass(
      {
        state,
        monitor,
        settings: {
          email: { smtp: '127.0.0.1:25', from: 'dk@example.org', to: 'admin@example.org' },
          webhook: { url: 'http://127.0.0.1:9/hook', secret: 'x' },
          confirmationHours: 24,
        },
        now: () => now,
        channels: fake.channels,
      },
      problems,
    );
  return { state, monitor, up, ...fake, pass, setNow: (d: Date) => (now = d) };
}

const types = (p: Payload) => p.notices.map((n) => `${n.type} ${n.kind}`);

describe('notifier', () => {
  it('starts from now (history is no news), then tells each new event once', async () => {
    const w = world();
    w.state.events.append(
      'example.org',
      'certificate-verified',
      'Certificate c1 is presented at every endpoint',
      {},
      at(-5),
    );
    let r = await w.pass();
    assert.equal(r.notices.length, 0);
    w.setNow(at(1));
    w.state.events.append(
      'example.org',
      'certificate-obtained',
      'Obtained certificate c2',
      {},
      at(0.5),
    );
    w.state.events.append(
      'example.org',
      'certificate-verified',
      'Certificate c2 is presented at every endpoint',
      {},
      at(0.6),
    );
    // what the planner logs for a rotation: the certificate verified, the rotation done, then
    // the next key (only the rotation is the 'key rotated' notice)
    w.state.events.append(
      'example.org',
      'key-rotated',
      'Key rotation done: k2 is now the current key (was k1)',
      {},
      at(0.65),
    );
    w.state.events.append(
      'example.org',
      'key-generated',
      'Generated the next key k3 (ec-p256)',
      {},
      at(0.7),
    );
    r = await w.pass();
    assert.equal(w.hooks.length, 3, 'one webhook call per notice (no storm, no digest)');
    assert.deepEqual(w.hooks.flatMap(types), [
      'event certificate-issued',
      'event certificate-renewed',
      'event key-rotated',
    ]);
    assert.equal(w.mails.length, 3);
    w.setNow(at(2));
    r = await w.pass();
    assert.equal(r.notices.length, 0, 'nothing twice');
  });

  it('a failed step: what failed, what happens next, what to do; recovery after progress', async () => {
    const w = world();
    await w.pass();
    w.state.events.append(
      'example.org',
      'failed',
      'install failed: reload exited 1',
      { action: 'install', code: 'E_DEPLOY_ROLLED_BACK_RELOAD' },
      at(0.5),
    );
    w.setNow(at(1));
    await w.pass();
    const n = w.hooks.at(-1)!.notices[0]!;
    assert.equal(`${n.type} ${n.kind}`, 'problem step-failed');
    assert.match(
      n.text,
      /What failed: install failed: reload exited 1 \(E_DEPLOY_ROLLED_BACK_RELOAD\)\. What happens next: /,
    );
    // the advice `status` gives for the same code (core/rollover/summary.ts failureHint)
    assert.match(n.fix!, /^A reload command failed: .*danekeeper renew example\.org/);
    assert.match(w.mails.at(-1)!.subject, /PROBLEM example\.org/);
    w.setNow(at(2));
    w.state.events.append('example.org', 'action-install', 'Installed c2', {}, at(1.5));
    await w.pass();
    assert.deepEqual(types(w.hooks.at(-1)!), ['recovery step-failed']);
  });

  it('keeps what it could not deliver, and sends it at the next pass', async () => {
    const w = world();
    await w.pass();
    w.up.mailUp = false;
    w.up.hookUp = false;
    const p: Problem = {
      key: 'example.org|live-mismatch|mx',
      domain: 'example.org',
      kind: 'live-mismatch',
      title: 'mismatch',
      text: 'no match',
      since: at(0).toISOString(),
    };
    w.setNow(at(1));
    let r = await w.pass([p]);
    assert.deepEqual(r.delivered, []);
    assert.equal(r.errors.length, 2);
    assert.equal(w.monitor.sent().length, 0);
    w.up.hookUp = true;
    w.setNow(at(2));
    r = await w.pass([p]);
    assert.deepEqual(r.delivered, ['webhook']);
    assert.equal(r.errors.length, 1);
    assert.equal(w.monitor.sent().length, 1);
    w.setNow(at(3));
    r = await w.pass([p]);
    assert.equal(r.notices.length, 0);
  });

  it('a rollover waiting a day past the confirmation interval is a problem until it moves on', async () => {
    const w = world();
    w.state.rollover.save(
      'example.org',
      { pending: { id: 'c2' }, renewal: { rotating: true } },
      { expectedVersion: 0, now: T0 },
    );
    w.state.events.append(
      'example.org',
      'records-published',
      'Published 3 1 1 ab at _25._tcp.mail.example.org.',
      {},
      T0,
    );
    w.setNow(at(47));
    let r = await w.pass();
    assert.equal(r.notices.length, 0);
    w.setNow(at(49));
    r = await w.pass();
    assert.deepEqual(
      r.notices.map((n) => n.kind),
      ['rollover-stalled'],
    );
    assert.match(r.notices[0]!.text, /waited 49 h/);
    w.state.rollover.save(
      'example.org',
      { pending: null, renewal: { rotating: false } },
      { expectedVersion: 1, now: at(50) },
    );
    w.setNow(at(50));
    r = await w.pass();
    assert.deepEqual(
      r.notices.map((n) => n.type),
      ['recovery'],
    );
  });

  it('does nothing without a channel', async () => {
    const state = memoryState();
    const monitor = memoryMonitorStore();
    const r = await runNotifyPass({ state, monitor, settings: {}, now: () => T0 }, []);
    assert.equal(r.configured, false);
    assert.equal(monitor.cursor('events'), null);
  });
});
