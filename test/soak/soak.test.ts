/**
 * The soak test of issue 9 ("Must show", second bullet): the automatic path rolled over again
 * and again, by repeated `danekeeper run` (the CLI, as a timer runs it), while Postfix's DANE
 * client probes both endpoints every half second and faults are injected:
 *
 * - `danekeeper run` SIGKILLed at random moments (DESIGN.md: every step persisted before its
 *   side effect, so the next run carries on);
 * - named (every authoritative server of the zone) frozen with SIGSTOP for 20 s while a renewal
 *   publishes its RFC 2136 update;
 * - the secondary lagging: no NOTIFY, it transfers only when the soak has seen a pass wait on
 *   it more than once;
 * - Pebble refusing a share of good nonces (RFC 8555 §6.5: the client retries badNonce).
 *
 * Two domains: soak.test with the default key policy (current + next key; `renew --force`
 * keeps the key, `renew --rotate-key` switches to the confirmed next key), and two.soak.test
 * with `--new-key-each-renewal` (each renewal publishes a new key, waits, installs).
 *
 * soak.test is asked for a fixed number of key rotations (`renew --rotate-key`, one in each of
 * the first ROTATIONS rounds), each judged on its own (rotation.ts): the request exited 0 and is
 * in the event log, then a `key-rotated` event names the next key of before, which is then the
 * current key, installed, verified live and served; the probes meanwhile all pass. The product
 * rule it checks: a request that exited 0 is carried out exactly once (plan.ts).
 *
 * Prints `soak: N rollovers, M probes, F failed` and `soak: key rotations asked A, done D` and
 * asserts F = 0 (DESIGN.md "The one invariant": a DANE client never sees a chain that no served
 * record matches), D = A = ROTATIONS, N >= 20, kills >= 10, and that every authoritative server
 * serves exactly the current (+ next) key's records at the end (no stale record, RFC 7671
 * §8.1). DK_SOAK_SEED replays a run's random
 * moments; DK_SHOW=1 prints every command as it runs. The soak fails when the planner's
 * confirmation wait is set to zero (TTL 8 s: a resolver still holds the old RRset then).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { labAvailable, sleep } from '../lab/netns.js';
import {
  dk,
  domainEvents,
  installedLeaf,
  POSTFIX,
  PRIMARY,
  RESOLVER,
  SECONDARY,
  served,
  startSoakLab,
  ZONE,
  type DkRun,
  type SoakLab,
} from './lab.js';
import { startProber, type Prober } from './prober.js';
import { mulberry32 } from './random.js';
import { judgeRotation, type RotationAsked } from './rotation.js';

const avail = labAvailable();
/** rollovers the soak aims at (the assertion asks for 20) */
const TARGET = 22;
/**
 * `renew --rotate-key` requests for soak.test, one in each of the first rounds, each checked: a
 * fixed number, so the count asked is known and each lost one is named (a count of rotations
 * seen after the fact depended on how many rounds fitted, and hid a lost request)
 */
const ROTATIONS = 4;
/**
 * no new round starts after this long, except the ROTATIONS rounds (the soak must stay within
 * ~6 min on 2 cores; 4 rounds took 246 s at a load average of 16)
 */
const ROUNDS_BUDGET_MS = 260_000;
const FREEZE_ROUNDS = new Set([1, 3]);
const KILLS_PER_ROUND = 3;
const MIN_KILLS = 10;
const FREEZE_MS = 20_000;

interface Status {
  domains: {
    name: string;
    phase: string;
    waitingFor: string | null;
    certificate: { id: string; serial: string; keyId: string; verified: boolean } | null;
    keys: {
      current: { id: string; spki: string } | null;
      next: { id: string; spki: string } | null;
    };
    tlsa: { rdata: string; role: string; servedBy: string[]; notServedBy: string[] }[];
  }[];
}

describe(
  'soak: rollovers under faults, judged by posttls-finger (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    const seed = Number(process.env.DK_SOAK_SEED ?? randomInt(2 ** 31));
    const rnd = mulberry32(seed);
    let lab: SoakLab;
    let prober: Prober | undefined;
    let frozen = false;
    const log: string[] = [];
    const installed = new Map<
      string,
      { last: { serial: string; spki: string } | null; seen: Set<string> }
    >();
    let rollovers = 0;
    /** rollovers with a new key, either domain (two.soak.test: every renewal) */
    let rotations = 0;
    /** soak.test's `renew --rotate-key`: asked, carried out, and what went wrong with the rest */
    let rotationsAsked = 0;
    let rotationsDone = 0;
    const rotationsLost: string[] = [];
    let kills = 0;
    let freezes = 0;
    let failedRuns = 0;

    const note = (args: string[], r: DkRun) => {
      const how = r.killed ? 'SIGKILL' : `exit ${r.code}`;
      log.push(
        `[${new Date().toISOString()}] $ danekeeper ${args.join(' ')} (${r.ms} ms)\n${r.stdout}${r.stderr}[${how}]`,
      );
      if (process.env.DK_SHOW) process.stderr.write(`${log.at(-1)}\n`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
      // a certificate change in --cert-dir is a rollover (the first issuance is not); one with
      // another key is a key rotation
      for (const d of lab.domains) {
        const leaf = installedLeaf(d.certDir);
        const t = installed.get(d.name) ?? { last: null, seen: new Set<string>() };
        installed.set(d.name, t);
        if (leaf !== null && leaf.serial !== t.last?.serial) {
          if (t.last !== null && !t.seen.has(leaf.serial)) {
            rollovers++;
            if (leaf.spki !== t.last.spki) rotations++;
          }
          t.seen.add(leaf.serial);
          t.last = leaf;
        }
      }
    };

    const cli = async (args: string[], opts: { killAfterMs?: number; timeoutMs?: number } = {}) => {
      const r = await dk(lab, args, opts);
      note(args, r);
      if (r.killed) kills++;
      else if (r.code !== 0 && (args[0] === 'run' || args[0] === 'renew')) failedRuns++;
      return r;
    };

    const status = async (): Promise<Status> => {
      const r = await cli(['status', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Status;
    };

    /**
     * soak.test's `renew --rotate-key`, asked once more after a non-zero exit (a request taken
     * by the first attempt is carried out by the same rotation: plan.ts), with what is needed to
     * judge it once the round is over.
     */
    type Asked = RotationAsked & { since: Date; failuresBefore: number };
    const failuresOf = (domain: string) =>
      (prober?.failures ?? []).filter((f) => f.domain === domain).length;
    const askRotation = async (): Promise<Asked> => {
      const one = lab.domains[0];
      const before = (await status()).domains.find((x) => x.name === one.name)!;
      const leafBefore = installedLeaf(one.certDir);
      const since = new Date();
      const failuresBefore = failuresOf(one.name);
      const exits: number[] = [];
      for (let i = 0; i < 2 && !exits.includes(0); i++) {
        exits.push((await cli(['renew', one.name, '--rotate-key'])).code);
      }
      rotationsAsked++;
      return { before, leafBefore, exits, since, failuresBefore };
    };

    const judgeRotationOf = async (a: Asked, round: number) => {
      const one = lab.domains[0];
      const after = (await status()).domains.find((x) => x.name === one.name)!;
      const v = judgeRotation(a, {
        events: domainEvents(lab, one.name, a.since),
        after,
        leafAfter: installedLeaf(one.certDir),
        served: await served(lab.dns, PRIMARY, one.owner),
        probeFailures: failuresOf(one.name) - a.failuresBefore,
      });
      if (v.done) rotationsDone++;
      else rotationsLost.push(`round ${round}: ${v.why.join('; ')}`);
      log.push(
        `[${new Date().toISOString()}] rotation of round ${round}: ${v.done ? `done, to ${v.to}` : `NOT done: ${v.why.join('; ')}`}`,
      );
    };

    /** runs still to be SIGKILLed at a random moment (each round adds some) */
    let killsOwed = 0;

    /**
     * `run` until both domains are idle, SIGKILLing runs at random moments while `killsOwed`
     * (a run that ends before its moment is not counted; the next one is tried).
     * `meanwhile`: called instead of a pause while soak.test is idle and two.soak.test waits
     * (a renewal of soak.test fits into two.soak.test's confirmation wait).
     */
    const runUntilIdle = async (what: string, meanwhile?: () => Promise<void>) => {
      let propagating = 0;
      for (let i = 0; i < 60; i++) {
        const killAfterMs = killsOwed > 0 ? 150 + Math.floor(rnd() * 3_500) : undefined;
        const r = await cli(['run'], killAfterMs !== undefined ? { killAfterMs } : {});
        if (r.killed) {
          killsOwed--;
          continue;
        }
        const idle = lab.domains.map((d) =>
          r.stdout.split('\n').some((l) => l.startsWith(`${d.name}: secured, idle`)),
        );
        if (idle.every(Boolean) && r.code === 0) return;
        // the secondary lags: it transfers only after a pass has waited on it twice
        if (/propagating/.test(r.stdout) && ++propagating >= 2) {
          await lab.dns.refreshSecondary(ZONE);
          propagating = 0;
        } else if (meanwhile && idle[0]) await meanwhile();
        else await sleep(1_000);
      }
      assert.fail(`${what}: never idle\n${log.slice(-8).join('\n')}`);
    };

    /**
     * SIGSTOP named for `ms` while `args` runs (a pass that must publish or observe meets a
     * primary that takes the packets and answers none); SIGCONT after it whatever the pass does.
     */
    const frozenPass = async (ms: number, args: string[]) => {
      const pid = lab.namedPid();
      process.kill(pid, 'SIGSTOP');
      frozen = true;
      freezes++;
      const thaw = sleep(ms).then(async () => {
        process.kill(pid, 'SIGCONT');
        frozen = false;
        // Unbound remembers the servers that did not answer (infra cache): forget that at once
        await lab.dns.unboundControl(['flush_infra', 'all']);
      });
      const r = await cli(args, { timeoutMs: 90_000 });
      await thaw;
      return r;
    };

    before(async () => {
      // 15 % of good nonces refused: with 5 retries a request fails about once in 10^5 (RFC 8555
      // §6.5): most orders meet badNonce, and none should fail for it
      // TTL 8 s: longer than a pass takes on a loaded machine, so that a resolver still holds
      // the old RRset when a certificate is installed too early (2 x TTL = 16 s is the wait)
      lab = await startSoakLab({ nonceReject: 15, ttl: 8, intervalHours: 0.002 });
    });

    after(async () => {
      const keep = setInterval(() => {}, 1000);
      try {
        await prober?.stop();
        if (frozen) process.kill(lab.namedPid(), 'SIGCONT');
        await lab?.stop();
      } finally {
        clearInterval(keep);
      }
      if (process.env.DK_LAB_KEEP !== '1' && lab?.dir)
        rmSync(lab.dir, { recursive: true, force: true });
    });

    it('20+ rollovers with key rotations under kill -9, a frozen primary, a lagging secondary and badNonce: posttls-finger never fails, no stale record', async () => {
      const [one, two] = lab.domains;
      const reload = ['--reload', `${POSTFIX} -c ${lab.postfix.configDir} reload`];
      const common = ['--no-domain-name', '--subdomain', 'mail', '--dane', '--resolver', RESOLVER];
      let r = await cli([
        'domain',
        'add',
        one.name,
        ...common,
        '--cert-dir',
        one.certDir,
        ...reload,
      ]);
      assert.equal(r.code, 0, r.stderr);
      r = await cli([
        'domain',
        'add',
        two.name,
        ...common,
        '--new-key-each-renewal',
        '--cert-dir',
        two.certDir,
        ...reload,
      ]);
      assert.equal(r.code, 0, r.stderr);
      await runUntilIdle('first issuance');

      // from here on a DANE client must never fail
      prober = startProber(lab.ns);
      prober.add(one.name);
      prober.add(two.name);

      const t0 = Date.now();
      for (
        let round = 0;
        rotationsAsked < ROTATIONS || (rollovers < TARGET && Date.now() - t0 < ROUNDS_BUDGET_MS);
        round++
      ) {
        // two.soak.test: every renewal is a new key: published, confirmed, then installed; in
        // some rounds the RFC 2136 update that publishes it meets a frozen primary, and a
        // renewal that failed for it (exit 75) is asked for again once named is back
        const renewTwo = ['renew', two.name, '--force'];
        if (FREEZE_ROUNDS.has(round)) {
          if ((await frozenPass(FREEZE_MS, renewTwo)).code !== 0) await cli(renewTwo);
        } else await cli(renewTwo);
        // soak.test, in each of the first ROTATIONS rounds: a key rotation to the next key
        // published ahead (RFC 7671 §8.1): installed at once when its record is confirmed, else
        // after the wait (the next key made by the round before may still be confirming); then
        // runs carry it on, some killed, and it is judged once both domains are idle
        const asked = rotationsAsked < ROTATIONS ? await askRotation() : null;
        killsOwed += KILLS_PER_ROUND;
        await runUntilIdle(`round ${round}`, async () => {
          await cli(['renew', one.name, '--force']);
        });
        if (asked) await judgeRotationOf(asked, round);
      }
      // the kills not yet made: a renewal of soak.test (one more rollover) killed at a random
      // moment while it works, then carried on by `run`. A `run` after a renewal finds both
      // domains at rest and ends in milliseconds (core/rollover/rest.ts), before any moment a
      // kill could land: the renewal itself is the work to interrupt.
      killsOwed = 0;
      for (let i = 0; kills < MIN_KILLS && i < 20; i++) {
        await cli(['renew', one.name, '--force'], { killAfterMs: 150 + Math.floor(rnd() * 2_000) });
        await runUntilIdle('kills still owed');
      }
      const rounds = Date.now() - t0;

      // the end: everything idle, the secondary caught up, then what every server serves
      await runUntilIdle('the end');
      await lab.dns.refreshSecondary(ZONE);
      await prober.stop();
      const st = await status();
      const f = prober.failures;
      console.log(`soak: ${rollovers} rollovers, ${prober.probes} probes, ${f.length} failed`);
      console.log(
        `soak: a probe took ${prober.meanMs} ms on average; ${prober.skipped} half-second slots skipped (3 probes of the domain still in flight)`,
      );
      console.log(`soak: key rotations asked ${rotationsAsked}, done ${rotationsDone}`);
      for (const x of rotationsLost) console.log(`soak: key rotation NOT done: ${x}`);
      console.log(
        `soak: seed ${seed}; ${rotations} of the rollovers with a new key; ${kills} runs killed, ${freezes} freezes of named, ${failedRuns} runs or renews failed (non-zero exit); rounds took ${Math.round(rounds / 1000)} s`,
      );
      for (const x of f.slice(0, 5))
        console.log(`soak: probe failure ${x.at} ${x.domain} ${x.verdict}: ${x.why}`);
      if (f.length > 0 && process.env.DK_SHOW) console.log(f[0]!.output);

      for (const d of lab.domains) {
        const s = st.domains.find((x) => x.name === d.name)!;
        assert.equal(s.phase, 'idle', `${d.name} idle at the end`);
        assert.ok(s.certificate?.verified, `${d.name}: certificate verified live`);
        // RFC 7671 §8.1: current + next by default; the new-key-each-renewal domain only current
        const want = [s.keys.current!, ...(s.keys.next ? [s.keys.next] : [])]
          .map((k) => `3 1 1 ${k.spki}`)
          .sort();
        assert.equal(want.length, d === one ? 2 : 1, `${d.name}: keys ${JSON.stringify(s.keys)}`);
        assert.deepEqual(s.tlsa.map((t) => t.rdata).sort(), want, `${d.name}: status records`);
        for (const server of [PRIMARY, SECONDARY])
          assert.deepEqual(
            await served(lab.dns, server, d.owner),
            want,
            `${d.name}: the RRset ${server} serves holds exactly current (+ next)`,
          );
        assert.equal(s.certificate!.keyId, s.keys.current!.id);
      }
      assert.equal(f.length, 0, `probe failures: ${JSON.stringify(f.slice(0, 3), null, 1)}`);
      assert.ok(rollovers >= 20, `${rollovers} rollovers`);
      assert.ok(kills >= MIN_KILLS, `${kills} kills`);
      // the issue asks for key rotations among the rollovers: each one asked for is carried out
      assert.equal(rotationsAsked, ROTATIONS);
      assert.deepEqual(rotationsLost, [], 'every renew --rotate-key carried out');
      assert.equal(rotationsDone, rotationsAsked);
      assert.ok(freezes >= 1);
    });
  },
);
