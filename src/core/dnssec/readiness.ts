/**
 * DNSSEC readiness of a zone for DANE, as pure rules: what the zone's servers, its parent and
 * a validating resolver were seen to serve (observations) -> findings with a fix hint. DANE
 * needs the TLSA RRset to validate as secure (RFC 6698 §4.1, RFC 7672 §2.2): a zone that is
 * unsigned, has no DS at the parent, or whose DS matches no key gives no DANE at all.
 */
import {
  algorithmInfo,
  algorithmName,
  delegationAcceptable,
  digestInfo,
  digestName,
  requirementWords,
  signingAcceptable,
  type Requirement,
} from './algorithms.js';
import {
  FLAG_REVOKE,
  FLAG_SEP,
  FLAG_ZONE,
  computeDs,
  keyTagOf,
  matchDs,
  sameDs,
  type DnskeyData,
  type DsData,
  type DsMatch,
} from './ds.js';
import { formatDs, registrarDs, type RegistrarDs } from './present.js';

export type ChainStatus = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export interface DnssecFinding {
  /** critical: DANE cannot work as things are; warning: fix soon; note: for the reader */
  severity: 'critical' | 'warning' | 'note';
  /** stable identifier for scripts */
  code: string;
  /** the zone, server or record the finding is about */
  subject: string;
  message: string;
  /** what to do about it, when there is something to do */
  fix?: string;
}

/** One RRSIG seen at an authoritative server (RFC 4034 §3.1). */
export interface SignatureObservation {
  server: string;
  /** the type covered: `SOA`, `DNSKEY` */
  covered: string;
  algorithm: number;
  keyTag: number;
  /** seconds since the epoch, as in the RRSIG (32-bit serial arithmetic, RFC 4034 §3.1.5) */
  inception: number;
  expiration: number;
}

/** What one authoritative server served. */
export interface ServerDnssecObservation {
  /** `ns1.example.org (192.0.2.1)` */
  server: string;
  /** false: no answer, or not authoritative */
  answered: boolean;
  /** DNSKEY records in its answer */
  dnskeys: number;
  /** an RRSIG over the SOA was in its answer */
  soaSigned: boolean;
}

export type ServerSoftware = 'bind' | 'powerdns' | 'knot' | 'unknown';

export interface DnssecObservations {
  /** presentation form without the final dot */
  zone: string;
  /** the parent zone's name, when known */
  parent: string | null;
  /** the union of the DNSKEY RRsets the zone's servers serve */
  keys: DnskeyData[];
  servers: ServerDnssecObservation[];
  signatures: SignatureObservation[];
  /** the parent's DS RRset as its own servers serve it (RD=0); null: no parent server answered */
  parentDs: DsData[] | null;
  /** the DS RRset through the validating resolver; null when it gave no answer */
  resolverDs: DsData[] | null;
  /** the resolver's verdict on the zone's SOA and DNSKEY RRsets */
  chain: ChainStatus;
  /** the resolver's reason, when not plain AD=1/AD=0 */
  chainWhy?: string;
  /** the resolver says the zone's name does not exist (NXDOMAIN on its SOA) */
  zoneMissing?: boolean;
  /** what serves the zone, to pick the fix hint; default unknown (every hint is given) */
  software?: ServerSoftware;
  now: Date;
}

export interface AlgorithmUse {
  algorithm: number;
  name: string;
  /** RFC 8624 §3.1 / RFC 9905 status for signing; null for an unknown algorithm */
  signing: Requirement | null;
  /** key tags of the zone's keys of this algorithm */
  keyTags: number[];
}

export interface DigestUse {
  digestType: number;
  name: string;
  /** RFC 8624 §3.3 status for DS records; null for an unknown digest type */
  delegation: Requirement | null;
}

export interface DsMatchReport {
  /** presentation form */
  ds: string;
  keyTag: number;
  algorithm: number;
  digestType: number;
  /** key tag of the matching key, null when none matches or the digest could not be checked */
  matchesKey: number | null;
  /** flags of the matching key (257: a KSK with SEP; 256: a ZSK) */
  keyFlags: number | null;
  checked: boolean;
}

export interface DnssecAssessment {
  /** signed: every answering server serves a DNSKEY RRset and signs its SOA */
  signing: 'signed' | 'unsigned' | 'partly' | 'unknown';
  algorithms: AlgorithmUse[];
  digests: DigestUse[];
  dsMatches: DsMatchReport[];
  /**
   * SHA-256 DS (digest type 2, RFC 8624 §3.3 MUST) of every key-signing key, for the
   * registrar; empty when the zone is unsigned.
   */
  registrar: RegistrarDs[];
  /** true: the zone is signed, the parent holds a DS of a key, and the resolver says secure */
  ready: boolean;
  findings: DnssecFinding[];
}

/** BIND 9.16+ (9.18 syntax): the statements to add inside the zone's `zone { }` block. */
export function bindPolicyStanza(zone: string): string {
  return [
    `zone "${zone}" {`,
    "    // ... the zone's existing type, file and allow-update statements stay as they are",
    '    dnssec-policy default;',
    '    inline-signing yes;',
    '};',
  ].join('\n');
}

function bindFix(zone: string): string {
  return (
    `BIND: add to the zone statement in named.conf:\n${bindPolicyStanza(zone)}\n` +
    `then run \`rndc reconfig\`; BIND creates the keys and signs the zone (\`rndc dnssec -status ${zone}\`). ` +
    `Once the DS is at the parent, tell BIND: \`rndc dnssec -checkds published ${zone}\`.`
  );
}

function powerdnsFix(zone: string): string {
  return (
    `PowerDNS: run \`danekeeper dnssec status ${zone} --secure\` to secure the zone through ` +
    `the API (or \`pdnsutil secure-zone ${zone}\` and \`pdnsutil rectify-zone ${zone}\` on the server).`
  );
}

function knotFix(zone: string): string {
  return `Knot: set \`dnssec-signing: on\` for ${zone} in knot.conf and run \`knotc reload\`.`;
}

function signFix(zone: string, software: ServerSoftware): string {
  if (software === 'bind') return bindFix(zone);
  if (software === 'powerdns') return powerdnsFix(zone);
  if (software === 'knot') return knotFix(zone);
  return [bindFix(zone), powerdnsFix(zone), knotFix(zone)].join('\n');
}

/** Key-signing keys: zone keys with SEP, not revoked; a zone without any gives its zone keys. */
export function keySigningKeys(keys: readonly DnskeyData[]): DnskeyData[] {
  const zoneKeys = keys.filter(
    (k) => (k.flags & FLAG_ZONE) !== 0 && (k.flags & FLAG_REVOKE) === 0 && k.protocol === 3,
  );
  const sep = zoneKeys.filter((k) => (k.flags & FLAG_SEP) !== 0);
  return sep.length > 0 ? sep : zoneKeys;
}

/** RFC 4034 §3.1.5 / RFC 1982: the signed distance in seconds from `now` to a 32-bit time. */
function secondsFrom(nowS: number, t: number): number {
  const d = (t - nowS) % 2 ** 32;
  const u = d < 0 ? d + 2 ** 32 : d;
  return u >= 2 ** 31 ? u - 2 ** 32 : u;
}

const DAY = 86400;
/** BIND refreshes signatures 5 days before they expire (signatures-refresh): under 3 days left
 * means re-signing has stopped. */
const EXPIRY_WARNING = 3 * DAY;

export function assessDnssec(o: DnssecObservations): DnssecAssessment {
  const findings: DnssecFinding[] = [];
  const software = o.software ?? 'unknown';
  const add = (f: DnssecFinding) => findings.push(f);

  const answered = o.servers.filter((s) => s.answered);
  const signedServers = answered.filter((s) => s.dnskeys > 0 && s.soaSigned);
  const signing: DnssecAssessment['signing'] =
    answered.length === 0
      ? 'unknown'
      : signedServers.length === answered.length
        ? 'signed'
        : signedServers.length === 0
          ? 'unsigned'
          : 'partly';

  const algorithms: AlgorithmUse[] = [];
  for (const k of o.keys) {
    let a = algorithms.find((x) => x.algorithm === k.algorithm);
    if (!a) {
      a = {
        algorithm: k.algorithm,
        name: algorithmName(k.algorithm),
        signing: algorithmInfo(k.algorithm)?.signing ?? null,
        keyTags: [],
      };
      algorithms.push(a);
    }
    a.keyTags.push(keyTagOf(k));
  }

  const ksks = keySigningKeys(o.keys);
  const registrar = ksks.map((k) => registrarDs(o.zone, k, computeDs(o.zone, k, 2)));
  const registrarText = registrar.map((r) => r.ds).join('\n');
  const dnskeyText = registrar.map((r) => r.dnskey).join('\n');

  if (o.zoneMissing) {
    add({
      severity: 'critical',
      code: 'zone-not-found',
      subject: o.zone,
      message: `${o.zone} does not exist in the DNS (NXDOMAIN): no parent delegates it.`,
      fix: 'Check the zone name; a new domain needs its delegation (NS records) at the registrar first.',
    });
  } else if (signing === 'unknown') {
    add({
      severity: 'critical',
      code: 'servers-unreachable',
      subject: o.zone,
      message: `No authoritative server of ${o.zone} answered: its signing state is unknown.`,
      fix: 'Check that the nameservers of the zone are up and reachable, then run the check again.',
    });
  } else if (signing === 'unsigned') {
    add({
      severity: 'critical',
      code: 'zone-unsigned',
      subject: o.zone,
      message: `${o.zone} is not signed (no DNSKEY RRset, no signatures): TLSA records in it are never used by DANE clients.`,
      fix: signFix(o.zone, software),
    });
  } else if (signing === 'partly') {
    const bad = answered.filter((s) => !(s.dnskeys > 0 && s.soaSigned)).map((s) => s.server);
    add({
      severity: 'critical',
      code: 'zone-partly-signed',
      subject: o.zone,
      message: `${bad.join(', ')} serve${bad.length === 1 ? 's' : ''} ${o.zone} unsigned while the other servers sign it: resolvers that ask ${bad.length === 1 ? 'it' : 'them'} get bogus answers.`,
      fix: 'Make every nameserver serve the signed zone (secondaries must transfer the signed version from the signer).',
    });
  }

  for (const a of algorithms) {
    if (a.signing === 'must-not') {
      add({
        severity: 'critical',
        code: 'algorithm-must-not',
        subject: o.zone,
        message: `Keys ${a.keyTags.join(', ')} use ${a.name}, which MUST NOT be used to sign (RFC 8624 §3.1, RFC 9905 §2): many validators treat the zone as unsigned.`,
        fix: 'Roll the keys over to ECDSAP256SHA256 (13) or ED25519 (15).',
      });
    } else if (a.signing === 'not-recommended' || a.signing === null) {
      add({
        severity: 'warning',
        code: 'algorithm-not-recommended',
        subject: o.zone,
        message:
          a.signing === null
            ? `Keys ${a.keyTags.join(', ')} use ${a.name}, which is not a known DNSSEC algorithm.`
            : `Keys ${a.keyTags.join(', ')} use ${a.name}: ${requirementWords(a.signing)} for signing (RFC 8624 §3.1).`,
        fix: 'Roll the keys over to ECDSAP256SHA256 (13) or ED25519 (15).',
      });
    }
  }

  const parentName = o.parent ? `the parent zone ${o.parent}` : 'the parent zone';
  const ParentName = parentName[0]!.toUpperCase() + parentName.slice(1);
  const matches: DsMatch[] = o.parentDs ? matchDs(o.zone, o.parentDs, o.keys) : [];
  const dsMatches: DsMatchReport[] = matches.map((m) => ({
    ds: formatDs(o.zone, m.ds),
    keyTag: m.ds.keyTag,
    algorithm: m.ds.algorithm,
    digestType: m.ds.digestType,
    matchesKey: m.key ? keyTagOf(m.key) : null,
    keyFlags: m.key ? m.key.flags : null,
    checked: m.checked,
  }));
  const digests: DigestUse[] = [];
  for (const ds of o.parentDs ?? []) {
    if (digests.some((d) => d.digestType === ds.digestType)) continue;
    digests.push({
      digestType: ds.digestType,
      name: digestName(ds.digestType),
      delegation: digestInfo(ds.digestType)?.delegation ?? null,
    });
  }
  const matched = matches.filter((m) => m.key !== null);
  const usableMatch = matched.some(
    (m) =>
      signingAcceptable(m.ds.algorithm) || algorithmInfo(m.ds.algorithm)?.validation === 'must',
  );

  if (o.parentDs === null) {
    add({
      severity: 'warning',
      code: 'parent-unreachable',
      subject: o.zone,
      message: `No server of ${parentName} answered for the DS of ${o.zone}: whether the parent holds a DS is unknown.`,
    });
  } else if (o.parentDs.length === 0 && signing !== 'unsigned' && signing !== 'unknown') {
    add({
      severity: 'critical',
      code: 'no-ds',
      subject: o.zone,
      message: `${ParentName} holds no DS for ${o.zone}: the zone is signed but an island, so resolvers treat it as unsigned and DANE is not used.`,
      fix:
        registrar.length > 0
          ? `Give the registrar of ${o.zone} this DS record (SHA-256, digest type 2):\n${registrarText}\n` +
            `If its form asks for the key instead, give it this DNSKEY:\n${dnskeyText}`
          : `The zone serves no key-signing key to derive a DS from; fix the signing first.`,
    });
  } else if (o.parentDs.length > 0) {
    for (const m of matches) {
      const line = formatDs(o.zone, m.ds);
      if (!m.checked) {
        add({
          severity: 'note',
          code: 'ds-unchecked',
          subject: line,
          message: `The DS uses ${digestName(m.ds.digestType)}, which danekeeper cannot compute: not checked against the keys.`,
        });
      } else if (!m.key && matched.length > 0) {
        add({
          severity: 'warning',
          code: 'ds-stale',
          subject: line,
          message: `This DS at ${parentName} matches no key of ${o.zone}: left over from a retired key, or published ahead of a key rollover.`,
          fix: 'Unless a key rollover is under way, ask the registrar to remove it.',
        });
      } else if (m.key && (m.key.flags & FLAG_SEP) === 0) {
        add({
          severity: 'note',
          code: 'ds-matches-zsk',
          subject: line,
          message: `This DS matches key ${keyTagOf(m.key)}, which has no SEP flag (a zone-signing key); that validates, but the DS normally points at the key-signing key.`,
        });
      }
      if (!delegationAcceptable(m.ds.digestType)) {
        const d = digestInfo(m.ds.digestType);
        add({
          severity: 'warning',
          code: 'ds-digest-not-recommended',
          subject: line,
          message: `The DS uses ${digestName(m.ds.digestType)}${d ? `, which ${requirementWords(d.delegation)} be used in DS records (RFC 8624 §3.3)` : ', an unknown digest type'}.`,
          fix:
            registrar.length > 0
              ? `Replace it at the registrar with the SHA-256 DS:\n${registrarText}`
              : 'Replace it at the registrar with a SHA-256 (digest type 2) DS.',
        });
      }
      const alg = algorithmInfo(m.ds.algorithm);
      if (alg?.signing === 'must-not') {
        add({
          severity: 'warning',
          code: 'ds-algorithm-must-not',
          subject: line,
          message: `The DS is for ${algorithmName(m.ds.algorithm)}, which MUST NOT be used in new DS records (RFC 9905 §2); validators may treat it as insecure.`,
        });
      }
    }
    if (matched.length === 0 && matches.some((m) => m.checked) && signing !== 'unknown') {
      add({
        severity: 'critical',
        code: 'ds-no-match',
        subject: o.zone,
        message:
          signing === 'unsigned'
            ? `${ParentName} holds a DS for ${o.zone}, but the zone is not signed: validating resolvers reject every answer from it (bogus).`
            : `No DS at ${parentName} matches any key of ${o.zone}: validating resolvers reject every answer from it (bogus).`,
        fix:
          registrar.length > 0
            ? `Replace the DS records at the registrar with:\n${registrarText}`
            : `Ask the registrar to remove the DS records until the zone is signed, or sign it:\n${signFix(o.zone, software)}`,
      });
    }
  }

  if (o.parentDs && o.resolverDs) {
    const same =
      o.parentDs.length === o.resolverDs.length &&
      o.parentDs.every((d) => o.resolverDs!.some((r) => sameDs(d, r)));
    if (!same) {
      add({
        severity: 'note',
        code: 'ds-cached',
        subject: o.zone,
        message: `The resolver still serves another DS set for ${o.zone} than ${parentName}'s servers (${o.resolverDs.length} vs ${o.parentDs.length} records): it has the old one cached until its TTL runs out.`,
      });
    }
  }

  const nowS = Math.floor(o.now.getTime() / 1000);
  const seen = new Set<string>();
  for (const s of o.signatures) {
    const left = secondsFrom(nowS, s.expiration);
    const since = secondsFrom(nowS, s.inception);
    const key = `${s.covered}/${s.keyTag}`;
    if (left <= 0 && !seen.has(`x${key}`)) {
      seen.add(`x${key}`);
      add({
        severity: 'critical',
        code: 'signature-expired',
        subject: s.server,
        message: `The signature over ${o.zone} ${s.covered} by key ${s.keyTag} expired ${Math.ceil(-left / DAY)} day(s) ago: the zone is bogus.`,
        fix: 'Re-sign the zone (for offline signing, run the signer again; for BIND inline signing, check `rndc dnssec -status`).',
      });
    } else if (left > 0 && left < EXPIRY_WARNING && !seen.has(`s${key}`)) {
      seen.add(`s${key}`);
      add({
        severity: 'warning',
        code: 'signature-expiring',
        subject: s.server,
        message: `The signature over ${o.zone} ${s.covered} by key ${s.keyTag} expires in ${Math.ceil(left / 3600)} hour(s): re-signing seems to have stopped.`,
        fix: 'Check the signer (BIND: `rndc dnssec -status`; offline signing: re-sign and reload).',
      });
    }
    if (since > 0 && !seen.has(`i${key}`)) {
      seen.add(`i${key}`);
      add({
        severity: 'warning',
        code: 'signature-not-yet-valid',
        subject: s.server,
        message: `The signature over ${o.zone} ${s.covered} by key ${s.keyTag} becomes valid only in ${Math.ceil(since / 60)} minute(s): the signer's clock runs ahead.`,
      });
    }
  }

  const why = o.chainWhy ? ` (${o.chainWhy})` : '';
  if (o.chain === 'bogus') {
    // The causes above (no matching DS, expired signatures) say what to fix; this says what
    // resolvers do about it.
    add({
      severity: 'critical',
      code: 'chain-bogus',
      subject: o.zone,
      message: `The validating resolver rejects ${o.zone} as bogus${why}: mail to it that uses DANE is held.`,
    });
  } else if (o.chain === 'indeterminate') {
    add({
      severity: 'warning',
      code: 'chain-indeterminate',
      subject: o.zone,
      message: `The resolver gave no verdict on ${o.zone}${why}.`,
    });
  } else if (o.chain === 'insecure' && usableMatch && signing === 'signed') {
    add({
      severity: 'warning',
      code: 'chain-insecure',
      subject: o.zone,
      message: `The parent holds a matching DS, yet the resolver sees ${o.zone} as insecure${why}: ${parentName} itself may be insecure, the resolver may not validate, or it still has the DS-less delegation cached.`,
    });
  }

  const ready = !o.zoneMissing && signing === 'signed' && usableMatch && o.chain === 'secure';
  return { signing, algorithms, digests, dsMatches, registrar, ready, findings };
}
