/**
 * The in-memory backend and ownership store the tlsa-set tests run against (tlsa-set.test.ts,
 * tlsa-set-mutants.test.ts): one copy, so both test the same fakes.
 */
import { DkError } from '../core/errors.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import type {
  OwnedRecord,
  OwnershipStore,
  PendingRecord,
  Publisher,
  TlsaChange,
  TlsaRrset,
} from './types.js';

export const rec = (n: number, usage = 3): TlsaRecord => ({
  usage,
  selector: 1,
  mtype: 1,
  data: Buffer.alloc(32, n),
});
export const OWNER = '_25._tcp.mail.example.test.';
export const ids = (rs: TlsaRecord[]) => rs.map((r) => r.data[0]).sort();

export class MemPublisher implements Publisher {
  readonly backend = 'zonefile' as const;
  readonly zone = 'example.test.';
  readonly describe = 'memory';
  sets = new Map<string, TlsaRrset>();
  applied: TlsaChange[] = [];
  /** called before each apply: a concurrent writer */
  interfere?: (owner: string) => void;
  /** the zone file backend's case: written, then the reload command failed */
  reloadFails = false;
  /** runs after the RRset was read, before the answer arrives: another process at work */
  afterRead?: () => Promise<void>;
  /** thrown by apply before anything changes */
  failWith?: DkError;

  async read(owner: string): Promise<TlsaRrset> {
    const s = this.sets.get(owner);
    const answer = s ? { ...s, records: [...s.records] } : { owner, ttl: null, records: [] };
    const other = this.afterRead;
    this.afterRead = undefined;
    await other?.();
    return answer;
  }
  defaultTtl(): Promise<number> {
    return Promise.resolve(3600);
  }
  apply(c: TlsaChange): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.interfere?.(c.owner);
    const cur = this.sets.get(c.owner)?.records ?? [];
    const same =
      cur.length === c.expected.length &&
      cur.every((r) => c.expected.some((e) => sameRecord(e, r)));
    if (!same) throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'guard failed');
    this.applied.push(c);
    const next = [...cur.filter((r) => !c.remove.some((x) => sameRecord(x, r))), ...c.add];
    if (next.length === 0) this.sets.delete(c.owner);
    else this.sets.set(c.owner, { owner: c.owner, ttl: c.ttl, records: next });
    if (this.reloadFails) throw new DkError('unavailable', 'E_PUBLISH_RELOAD', 'reload failed');
    return Promise.resolve();
  }
  describeChange(c: TlsaChange): Promise<string[]> {
    return Promise.resolve([
      ...c.remove.map((r) => `- ${r.data[0]}`),
      ...c.add.map((r) => `+ ${r.data[0]} ttl ${c.ttl}`),
    ]);
  }
  put(records: TlsaRecord[], ttl = 300): void {
    this.sets.set(OWNER, { owner: OWNER, ttl, records });
  }
}

export class MapStore implements OwnershipStore {
  rows: OwnedRecord[] = [];
  pendingRows: (PendingRecord & { zone: string; owner: string })[] = [];
  private intents = 0;
  owned(zone: string, owner: string) {
    return this.rows.filter((r) => r.zone === zone && r.owner === owner).map((r) => r.record);
  }
  remember(zone: string, owner: string, records: TlsaRecord[], now: Date) {
    for (const record of records)
      if (!this.owned(zone, owner).some((r) => sameRecord(r, record)))
        this.rows.push({ zone, owner, record, createdAt: now.toISOString() });
    this.settle(zone, owner, records);
  }
  forget(zone: string, owner: string, records: TlsaRecord[]) {
    this.rows = this.rows.filter(
      (r) =>
        !(r.zone === zone && r.owner === owner && records.some((x) => sameRecord(x, r.record))),
    );
    this.settle(zone, owner, records);
  }
  private settle(zone: string, owner: string, records: TlsaRecord[]) {
    this.pendingRows = this.pendingRows.filter(
      (r) =>
        !(r.zone === zone && r.owner === owner && records.some((x) => sameRecord(x, r.record))),
    );
  }
  intend(zone: string, owner: string, records: TlsaRecord[], now: Date) {
    const intent = `intent-${++this.intents}`;
    for (const record of records)
      this.pendingRows.push({ zone, owner, record, intent, createdAt: now.toISOString() });
    return intent;
  }
  pending(zone: string, owner: string) {
    return this.pendingRows.filter((r) => r.zone === zone && r.owner === owner);
  }
  abandon(intent: string) {
    this.pendingRows = this.pendingRows.filter((r) => r.intent !== intent);
  }
  list() {
    return this.rows;
  }
  close() {}
}
