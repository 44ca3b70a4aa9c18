/**
 * The prerequisite rules: one small function per requirement of the seed, each
 * `(observations) => PrereqFinding`, run in order by assessPrereq (index.ts). A lookup or probe
 * that could not decide makes its requirement `unknown`, never `ok` or `fail`.
 */
import { checkDkimKey } from './dkim.js';
import type {
  MailHostObservation,
  PrereqFinding,
  PrereqObservations,
  PrereqStatus,
  StarttlsObservation,
  ZoneObservations,
} from './types.js';

export type PrereqRule = (o: PrereqObservations) => PrereqFinding;

const SEVERITY: Record<PrereqStatus, number> = { ok: 0, warn: 1, unknown: 2, fail: 3 };

/** fail beats unknown beats warn beats ok: a known failure is worth more than a doubt. */
export function worstStatus(all: PrereqStatus[]): PrereqStatus {
  return all.reduce<PrereqStatus>((w, s) => (SEVERITY[s] > SEVERITY[w] ? s : w), 'ok');
}

/** One sentence end: `x.` stays, `x?` stays, `x` gets its full stop. */
const sentence = (s: string) => (/[.?!]$/.test(s) ? s : `${s}.`);

const list = (xs: string[]) =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;

const addressesOf = (h: MailHostObservation) => [...h.a.addresses, ...h.aaaa.addresses];

/** The host's address lookups gave no verdict (neither answered nor said "none"). */
const undecided = (h: MailHostObservation) =>
  h.a.status === 'indeterminate' && h.aaaa.status === 'indeterminate';

// ------------------------------------------------------------------------------ STARTTLS

const STARTTLS_TITLE = 'The mail service answers STARTTLS on port 25';
const STARTTLS_REF = 'plesk-dane-guide (DANE needs STARTTLS); RFC 7672 §1.3, RFC 3207';

const POSTFIX_TLS_FIX =
  'Offer STARTTLS with a certificate: in Postfix main.cf set smtpd_tls_security_level = may and ' +
  'smtpd_tls_chain_files = /path/privkey.pem, /path/fullchain.pem, then run postfix reload ' +
  '(Exim: tls_advertise_hosts = * with tls_certificate/tls_privatekey).';

function starttlsFix(s: StarttlsObservation): string {
  switch (s.outcome) {
    case 'no-starttls':
      return POSTFIX_TLS_FIX;
    case 'connect-failed':
      return `Start the mail server on ${s.address} port ${s.port} (Postfix: an smtp inet line in master.cf listening there, inet_interfaces = all) and let port ${s.port} through the firewall.`;
    case 'tls-failed':
      return 'Check the certificate and key the mail server is configured with (Postfix: smtpd_tls_chain_files): they must exist, match each other and be readable by it; see the mail log for the handshake error.';
    default:
      return 'See the mail server log for why the SMTP dialogue failed.';
  }
}

const STARTTLS_STATUS: Record<StarttlsObservation['outcome'], PrereqStatus> = {
  tls: 'ok',
  'no-starttls': 'fail',
  'connect-failed': 'fail',
  'tls-failed': 'fail',
  error: 'fail',
  // a firewall that drops the packets and a host that is down look the same: no verdict
  timeout: 'unknown',
};

export const starttlsRule: PrereqRule = (o) => {
  const base = { requirement: 'starttls' as const, title: STARTTLS_TITLE, ref: STARTTLS_REF };
  if (o.mailHosts.length === 0) {
    return {
      ...base,
      status: 'unknown',
      message: `No mail host to probe: ${o.domain} has no usable MX record.`,
      fix: 'Publish the MX record (see the MX line), or give --mail-host HOST.',
      details: [],
    };
  }
  const details: string[] = [];
  const statuses: PrereqStatus[] = [];
  const bad: StarttlsObservation[] = [];
  // with --mail-host only that host (listed first) is probed; the MX hosts are for the MX rule
  const probed = o.mailHostFrom === 'flag' ? o.mailHosts.slice(0, 1) : o.mailHosts;
  for (const h of probed) {
    if (addressesOf(h).length === 0) {
      statuses.push('unknown');
      details.push(`${h.name}: no address to probe${undecided(h) ? ' (its lookups failed)' : ''}`);
    }
  }
  for (const s of o.starttls) {
    const st = STARTTLS_STATUS[s.outcome];
    statuses.push(st);
    if (st !== 'ok') bad.push(s);
    details.push(
      `${s.host} ${s.address} port ${s.port}: ${st === 'ok' ? 'STARTTLS, ' : ''}${s.detail}`,
    );
  }
  const status = worstStatus(statuses);
  if (status === 'ok') {
    return {
      ...base,
      status,
      message: `${list(o.starttls.map((s) => `${s.host} ${s.address}`))} ${o.starttls.length === 1 ? 'offers' : 'offer'} STARTTLS and ${o.starttls.length === 1 ? 'completes' : 'complete'} the TLS handshake (${o.starttls[0]?.detail ?? ''}).`,
      details,
    };
  }
  const failing = bad.filter((s) => STARTTLS_STATUS[s.outcome] === 'fail');
  const first = failing[0] ?? bad[0];
  const fixes = [...new Set(failing.map(starttlsFix))];
  return {
    ...base,
    status,
    message:
      first !== undefined
        ? `${first.host} ${first.address}: ${first.detail.replace(/\.$/, '')}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}.`
        : 'A mail host has no address to probe.',
    ...(fixes.length > 0
      ? { fix: fixes.join('\n') }
      : status === 'unknown'
        ? {
            fix: 'Check that port 25 of the mail host is reachable from here, then run the check again.',
          }
        : {}),
    details,
  };
};

// ------------------------------------------------------------------------------ DKIM

const DKIM_TITLE = 'DKIM is published';
const DKIM_REF = 'plesk-dane-guide (DKIM on); RFC 6376 §3.6.1, RFC 8463, RFC 8301';

export const dkimRule = (o: Pick<PrereqObservations, 'domain' | 'dkim'>): PrereqFinding => {
  const base = { requirement: 'dkim' as const, title: DKIM_TITLE, ref: DKIM_REF };
  const details: string[] = [];
  const valid: string[] = [];
  const broken: { name: string; problem: string; revoked: boolean }[] = [];
  const warnings: string[] = [];
  const bogus: string[] = [];
  for (const l of o.dkim.lookups) {
    if (l.outcome === 'failed') {
      details.push(`${l.name}: lookup failed${l.why ? `: ${l.why}` : ''}`);
      continue;
    }
    // bogus: the chain is broken, whatever the record says (the DNSSEC line says why)
    if (l.status === 'bogus') {
      bogus.push(l.name);
      details.push(`${l.name}: bogus`);
      continue;
    }
    if (l.outcome === 'none') {
      if (o.dkim.selectorsFrom === 'flag') details.push(`${l.name}: no TXT record`);
      continue;
    }
    // RFC 6376 §3.6.2.2: several key records at one name give undefined results.
    if (l.values.length > 1) {
      warnings.push(`${l.name} holds ${l.values.length} TXT records; verifiers may pick any one`);
    }
    const checks = l.values.map(checkDkimKey);
    const good = checks.find((c) => c.state === 'valid');
    if (good) {
      valid.push(l.selector);
      const what = good.keyType === 'rsa' && good.bits ? `rsa ${good.bits} bits` : good.keyType;
      details.push(`${l.name}: ${what}`);
      for (const w of good.warnings) warnings.push(`${l.name}: ${w}`);
    } else {
      const c = checks[0]!;
      broken.push({
        name: l.name,
        problem: c.problem ?? 'not a DKIM key',
        revoked: c.state === 'revoked',
      });
      details.push(`${l.name}: ${c.problem ?? 'not a DKIM key'}`);
    }
  }
  const tried = o.dkim.lookups.map((l) => l.selector);
  const example = `${tried[0] ?? 'default'}._domainkey.${o.domain}`;
  const record = (name: string) => `${name}. IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBg..."`;
  const publishFix =
    `Publish the public key your mail server signs with (OpenDKIM, rspamd, ...) as a TXT record, e.g. ` +
    `${record(example)} (opendkim-genkey -s ${tried[0] ?? 'default'} -d ${o.domain} writes it), ` +
    'or give the selector your signer uses with --dkim-selector.';
  if (valid.length > 0) {
    for (const b of broken) warnings.push(`${b.name}: ${b.problem}`);
    for (const b of bogus) warnings.push(`${b} fails DNSSEC validation (bogus)`);
    return {
      ...base,
      status: warnings.length > 0 ? 'warn' : 'ok',
      message:
        warnings.length > 0
          ? `A DKIM key is published (selector ${list(valid)}), but ${warnings[0]}.`
          : `A valid DKIM key is published (selector ${list(valid)}).`,
      ...(warnings.length > 0
        ? {
            fix:
              broken.length + bogus.length > 0
                ? 'Remove the key records no signer uses, or publish a valid key there.'
                : 'Publish one key record per selector, of 2048 bits (RSA) or ed25519, without t=y once signing works.',
          }
        : {}),
      details,
    };
  }
  if (bogus.length > 0) {
    return {
      ...base,
      status: 'fail',
      message: `The DKIM key lookup${bogus.length > 1 ? `s of ${bogus.length} selectors fail` : ` of ${bogus[0]} fails`} DNSSEC validation (bogus): receivers cannot read the key.`,
      fix: 'Repair the chain of trust first (see the DNSSEC line).',
      details,
    };
  }
  if (broken.length > 0) {
    const b = broken[0]!;
    return {
      ...base,
      status: 'fail',
      message: `No usable DKIM key: ${b.name}: ${b.problem}${broken.length > 1 ? ` (and ${broken.length - 1} more)` : ''}.`,
      fix: b.revoked
        ? `The key at ${b.name} is revoked (RFC 6376 §3.6.1: empty p=): generate a new key pair for the signer and publish its public key, e.g. ${record(b.name)}, or give the selector your signer uses now with --dkim-selector.`
        : `Publish the key record again, copied whole from the signer's .txt file: v=DKIM1; k=rsa or ed25519; p= the base64 public key (RFC 6376 §3.6.1), e.g. ${record(b.name)}.`,
      details,
    };
  }
  const failed = o.dkim.lookups.filter((l) => l.outcome === 'failed');
  if (failed.length > 0) {
    return {
      ...base,
      status: 'unknown',
      message: `No DKIM key found, and ${failed.length} of ${o.dkim.lookups.length} lookups failed: ${failed[0]!.why ?? 'no answer'}.`,
      fix: 'Check that the resolver answers, then run the check again.',
      details,
    };
  }
  return {
    ...base,
    status: 'fail',
    message: `No DKIM key at ${o.dkim.selectorsFrom === 'flag' ? list(o.dkim.lookups.map((l) => l.name)) : `any of the usual selectors (${list(tried)}) under _domainkey.${o.domain}`}.`,
    fix: publishFix,
    details,
  };
};

// ------------------------------------------------------------------------------ DNS backend

const BACKEND_TITLE = "danekeeper's DNS backend serves the zone";
const BACKEND_REF = 'plesk-dane-guide ("Plesk is the primary DNS server for the domain")';

const sameZone = (a: string, b: string) =>
  a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

function backendFix(code: string | undefined, zone: string, describe: string): string {
  switch (code) {
    case 'E_PUBLISH_NOTAUTH':
      return `Make the server danekeeper updates (${describe}) the primary for ${zone} (BIND: zone "${zone}" { type primary; allow-update { key ...; }; }), or set server = in [dns] to the zone's primary.`;
    case 'E_PUBLISH_AUTH':
    case 'E_PUBLISH_REFUSED':
      return `Give danekeeper a key the server accepts for ${zone}: tsig-key-file = in [dns] must hold the key named in the zone's allow-update (PowerDNS: api-key-file = the API key).`;
    case 'E_PUBLISH_UNREACHABLE':
      return `Start the DNS server (${describe}) or correct server = / api-url = in [dns].`;
    case 'E_PUBLISH_IO':
      return 'Check that zone-file = in [dns] names the master file the primary loads for the zone, and that danekeeper may read and write it.';
    default:
      return `Check the [dns] settings (backend, server, zone) for ${zone}.`;
  }
}

export const dnsBackendRule: PrereqRule = (o) => {
  const base = { requirement: 'dns-backend' as const, title: BACKEND_TITLE, ref: BACKEND_REF };
  const b = o.backend;
  const zone = o.zone ?? o.domain;
  if (b.state === 'not-configured') {
    return {
      ...base,
      status: 'fail',
      message: `No DNS backend is configured${b.why ? `: ${b.why.replace(/\.$/, '')}` : ''}.`,
      fix:
        `Tell danekeeper where ${zone} is published, in [dns] of the config file: ` +
        `zone = ${zone}, backend = rfc2136 with server = PRIMARY and tsig-key-file = FILE ` +
        '(or backend = powerdns with api-url and api-key-file, or backend = zonefile with zone-file).',
      details: [],
    };
  }
  const describe = b.describe ?? 'the backend';
  if (o.zone !== null && b.zone !== undefined && !sameZone(b.zone, o.zone)) {
    return {
      ...base,
      status: 'fail',
      message: `The DNS backend publishes to zone ${b.zone.replace(/\.$/, '')}, but ${o.domain} is in zone ${o.zone}.`,
      fix: `Set zone = ${o.zone} in [dns] (or give --config with the settings for ${o.zone}).`,
      details: [describe],
    };
  }
  if (b.state === 'failed') {
    return {
      ...base,
      status: 'fail',
      message: `Reading ${zone} through ${describe} failed: ${sentence(b.why ?? 'no reason given')}`,
      fix: backendFix(b.code, zone, describe),
      details: [describe],
    };
  }
  const details = [describe];
  const nsSerials = (o.dnssec?.servers ?? [])
    .filter((s) => s.outcome === 'answer' && s.serial !== null && s.source !== 'ns-rrset')
    .map((s) => s.serial!);
  if (b.serial !== undefined && b.serial !== null) {
    details.push(`serial ${b.serial} on the backend's server`);
    // RFC 1996 / RFC 5936: servers fed by this primary catch up with its serial; ones that never
    // do are fed by someone else, and records danekeeper publishes never reach them.
    if (nsSerials.length > 0 && !nsSerials.some((s) => s === b.serial)) {
      return {
        ...base,
        status: 'warn',
        message: `${zone} is reachable through ${describe} (serial ${b.serial}), but no server in the delegation serves that serial (${list([...new Set(nsSerials)].map(String))}): they may not be fed by this primary.`,
        fix: `Make the delegated servers secondaries of this primary (allow-transfer and also-notify on it), or point server = in [dns] at the primary they transfer from.`,
        details,
      };
    }
  }
  return {
    ...base,
    status: 'ok',
    message: `${zone} is reachable through ${describe}.`,
    details,
  };
};

// ------------------------------------------------------------------------------ delegation

const DELEGATION_TITLE = "The parent's delegation names the servers that serve the zone";
const DELEGATION_REF = 'plesk-dane-guide (primary DNS); RFC 1034 §4.2.2, RFC 1996';

export const delegationRule = (o: ZoneObservations): PrereqFinding => {
  const base = { requirement: 'delegation' as const, title: DELEGATION_TITLE, ref: DELEGATION_REF };
  const zone = o.zone ?? o.domain;
  const d = o.dnssec;
  if (!d) {
    return {
      ...base,
      status: 'unknown',
      message: `The servers of ${zone} could not be looked at${o.dnssecWhy ? `: ${o.dnssecWhy}` : ''}.`,
      details: [],
    };
  }
  const delegated = d.servers.filter((s) => s.source !== 'ns-rrset');
  const details = d.servers.map(
    (s) =>
      `${s.name} ${s.address ?? '(no address)'}${s.source === 'parent' ? ' (delegation only)' : s.source === 'ns-rrset' ? ' (zone NS only)' : ''}: ` +
      (s.outcome === 'answer'
        ? `serial ${s.serial ?? '?'}`
        : `${s.outcome}${s.why ? `: ${s.why}` : ''}`),
  );
  if (delegated.length === 0) {
    return {
      ...base,
      status: 'unknown',
      message: `No delegation of ${zone} was found at its parent${d.parent ? ` ${d.parent}` : ''}.`,
      fix: `Check that the registrar of ${zone} lists its nameservers (NS records at the parent).`,
      details,
    };
  }
  const broken = delegated.filter((s) => s.outcome !== 'answer');
  if (broken.length > 0) {
    const s = broken[0]!;
    const what = s.outcome === 'lame' ? 'does not serve the zone (lame)' : 'does not answer';
    return {
      ...base,
      status: 'fail',
      message: `${s.name}${s.address ? ` (${s.address})` : ''} is named in the delegation of ${zone} but ${what}${s.why ? `: ${s.why.replace(/\.$/, '')}` : ''}${broken.length > 1 ? ` (and ${broken.length - 1} more)` : ''}.`,
      fix: `Make ${s.name} serve ${zone} (a secondary of the primary danekeeper updates), or remove it from the zone's nameservers at the registrar.`,
      details,
    };
  }
  const serials = [
    ...new Set(d.servers.filter((s) => s.outcome === 'answer').map((s) => s.serial)),
  ];
  const onlyOneSide = d.servers.filter((s) => s.source !== 'both');
  if (serials.length > 1) {
    return {
      ...base,
      status: 'warn',
      message: `The servers of ${zone} serve different SOA serials (${list(serials.map(String))}): a secondary lags, and new TLSA records reach senders only once every server has them.`,
      fix: 'Check NOTIFY and zone transfers from the primary to every secondary (also-notify, allow-transfer).',
      details,
    };
  }
  if (onlyOneSide.length > 0) {
    return {
      ...base,
      status: 'warn',
      message: `The parent's delegation and the zone's own NS records differ (${list(onlyOneSide.map((s) => `${s.name} ${s.source === 'parent' ? 'only at the parent' : 'only in the zone'}`))}).`,
      fix: `Make the NS records in ${zone} and the nameservers at the registrar the same list (RFC 1034 §4.2.2).`,
      details,
    };
  }
  return {
    ...base,
    status: 'ok',
    message: `${d.parent ?? 'The parent'} delegates ${zone} to ${list([...new Set(delegated.map((s) => s.name))])}; each answers authoritatively with serial ${serials[0] ?? '?'}.`,
    details,
  };
};

// ------------------------------------------------------------------------------ MX

const MX_TITLE = "MX exists and resolves to this server's addresses";
const MX_REF = 'plesk-dane-guide (MX to the server); RFC 5321 §5.1, RFC 7505, RFC 7672 §2.2.2';

export const mxRule: PrereqRule = (o) => {
  const base = { requirement: 'mx' as const, title: MX_TITLE, ref: MX_REF };
  const ours = new Set(o.server.addresses.map((a) => a.toLowerCase()));
  const addressHint = o.server.addresses[0] ?? 'ADDRESS';
  const mxRecords =
    `${o.domain}. IN MX 10 mail.${o.domain}. and mail.${o.domain}. IN A ${addressHint} ` +
    `(the address this server receives mail on${o.server.from === 'interfaces' ? '; give --address when it is another' : ''})`;
  const mxFix = `Publish ${mxRecords}.`;
  const mx = o.mx;
  if (mx.status === 'indeterminate') {
    return {
      ...base,
      status: 'unknown',
      message: `The MX lookup of ${o.domain} failed${mx.why ? `: ${mx.why}` : ''}.`,
      fix: 'Check that the resolver answers, then run the check again.',
      details: [],
    };
  }
  if (mx.status === 'bogus') {
    return {
      ...base,
      status: 'fail',
      message: `The MX records of ${o.domain} fail DNSSEC validation (bogus): senders cannot find the mail server.`,
      fix: 'Repair the chain of trust first (see the DNSSEC line).',
      details: [],
    };
  }
  if (mx.rcode === 'NXDOMAIN') {
    return {
      ...base,
      status: 'fail',
      message: `${o.domain} does not exist in the DNS (NXDOMAIN).`,
      fix: `Check the name; publish ${mxRecords}.`,
      details: [],
    };
  }
  const real = mx.records.filter((r) => r.exchange !== '.' && r.exchange !== '');
  if (mx.records.length === 0) {
    return {
      ...base,
      status: 'fail',
      message: `${o.domain} has no MX record.`,
      fix: mxFix,
      details: [],
    };
  }
  if (real.length === 0) {
    return {
      ...base,
      status: 'fail',
      message: `${o.domain} publishes a null MX (RFC 7505): it says it accepts no mail.`,
      fix: `Replace the null MX: publish ${mxRecords}.`,
      details: [],
    };
  }
  if (ours.size === 0) {
    return {
      ...base,
      status: 'unknown',
      message: `${o.domain} has MX ${list(real.map((r) => r.exchange))}, but this server's addresses are unknown.`,
      fix: 'Give the addresses this server receives mail on with --address IP.',
      details: [],
    };
  }
  const details: string[] = [];
  const byHost = new Map(o.mailHosts.map((h) => [h.name.toLowerCase(), h]));
  const ourHosts: string[] = [];
  const elsewhere: string[] = [];
  const undecidedHosts: string[] = [];
  const insecure: string[] = [];
  for (const r of [...real].sort((a, b) => a.preference - b.preference)) {
    const h = byHost.get(r.exchange.toLowerCase());
    const addrs = h ? addressesOf(h) : [];
    if (!h || (addrs.length === 0 && undecided(h))) {
      undecidedHosts.push(r.exchange);
      details.push(`MX ${r.preference} ${r.exchange}: address lookup failed`);
      continue;
    }
    const mine = addrs.filter((a) => ours.has(a.toLowerCase()));
    details.push(
      `MX ${r.preference} ${r.exchange}: ${addrs.length ? addrs.join(', ') : 'no address'}${mine.length ? ' (this server)' : ''}`,
    );
    if (mine.length > 0) {
      ourHosts.push(`${r.exchange} (${mine.join(', ')})`);
      // RFC 7672 §2.2.2: senders look for TLSA only when the MX host's addresses are secure.
      if (
        o.dnssec?.chain === 'secure' &&
        [h.a, h.aaaa].some((l) => l.status === 'insecure' && l.addresses.length > 0)
      ) {
        insecure.push(r.exchange);
      }
    }
    // a host with an address of someone else's: senders may connect there too (RFC 5321 §5.1)
    const others = addrs.filter((a) => !ours.has(a.toLowerCase()));
    if (others.length > 0 || addrs.length === 0) {
      elsewhere.push(`${r.exchange} (${others.length ? others.join(', ') : 'no address'})`);
    }
  }
  const mine = `this server (${list(o.server.addresses)})`;
  if (ourHosts.length === 0) {
    if (elsewhere.length === 0) {
      return {
        ...base,
        status: 'unknown',
        message: `The addresses of the MX hosts of ${o.domain} could not be looked up.`,
        fix: 'Check that the resolver answers, then run the check again.',
        details,
      };
    }
    return {
      ...base,
      status: 'fail',
      message: `No MX host of ${o.domain} resolves to ${mine}: ${list(elsewhere)}.`,
      fix: `Point the MX at this server: publish ${mxRecords}.`,
      details,
    };
  }
  if (elsewhere.length > 0 || undecidedHosts.length > 0) {
    return {
      ...base,
      status: elsewhere.length > 0 ? 'warn' : 'unknown',
      message:
        elsewhere.length > 0
          ? `${list(ourHosts)} ${ourHosts.length === 1 ? 'is' : 'are'} this server, but ${list(elsewhere)} ${elsewhere.length === 1 ? 'is' : 'are'} not: senders use any MX host, and each needs STARTTLS and TLSA records of its own.`
          : `${list(ourHosts)} ${ourHosts.length === 1 ? 'is' : 'are'} this server; the addresses of ${list(undecidedHosts)} could not be looked up.`,
      fix:
        elsewhere.length > 0
          ? 'Remove the MX records of hosts this server does not run, or set up DANE on them as well.'
          : 'Check that the resolver answers, then run the check again.',
      details,
    };
  }
  if (insecure.length > 0) {
    return {
      ...base,
      status: 'warn',
      message: `${list(insecure)} resolves to ${mine}, but its address records are not DNSSEC-signed: senders do not look for TLSA records there (RFC 7672 §2.2.2).`,
      fix: `Put the mail host's name in a signed zone (e.g. mail.${o.zone ?? o.domain}).`,
      details,
    };
  }
  const flagged =
    o.mailHostFrom === 'flag' &&
    o.mailHosts.length > 0 &&
    !real.some((r) => r.exchange.toLowerCase() === o.mailHosts[0]!.name.toLowerCase());
  if (flagged) {
    return {
      ...base,
      status: 'warn',
      message: `The MX hosts resolve to ${mine}, but --mail-host ${o.mailHosts[0]!.name} is not among them (${list(real.map((r) => r.exchange))}).`,
      fix: `Give the MX host as --mail-host, or point the MX at ${o.mailHosts[0]!.name}.`,
      details,
    };
  }
  return {
    ...base,
    status: 'ok',
    message: `${o.mailHostFrom === 'mx' && real.length > 1 ? 'Every MX host is this server: ' : 'The MX host is this server: '}${list(ourHosts)}.`,
    details,
  };
};

// ------------------------------------------------------------------------------ DNSSEC

const DNSSEC_TITLE = 'DNSSEC is on with a secure chain of trust';
const DNSSEC_REF =
  'plesk-dane-guide (DNSSEC, DS at the registrar); RFC 6698 §4.1, RFC 7672 §2.2, RFC 4035 §5';

export const dnssecRule = (o: ZoneObservations): PrereqFinding => {
  const base = { requirement: 'dnssec' as const, title: DNSSEC_TITLE, ref: DNSSEC_REF };
  const zone = o.zone ?? o.domain;
  const d = o.dnssec;
  if (!d) {
    return {
      ...base,
      status: 'unknown',
      message: `The DNSSEC state of ${zone} could not be looked at${o.dnssecWhy ? `: ${o.dnssecWhy}` : ''}.`,
      details: [],
    };
  }
  const details = [
    `signing: ${d.signing}`,
    `chain: ${d.chain}`,
    `DS at ${d.parent ?? 'the parent'}: ${d.parentDs === null ? 'unknown' : d.parentDs.length === 0 ? 'none' : d.parentDs.join(' | ')}`,
  ];
  if (d.ready) {
    return {
      ...base,
      status: 'ok',
      message: `${zone} is signed, ${d.parent ?? 'its parent'} holds a matching DS and the chain validates (secure).`,
      details,
    };
  }
  // RFC 4035 §4.9.3: a stub learns "secure" only from a resolver that validates; from one that
  // does not, every zone looks insecure, which says nothing about the zone.
  if (o.resolver && !o.resolver.validating && d.chain !== 'bogus') {
    return {
      ...base,
      status: 'unknown',
      message: `The resolver was not proven to validate DNSSEC, so the chain of ${zone} cannot be judged: ${o.resolver.summary.replace(/^WARNING: /, '')}`,
      fix: 'Give --resolver (or resolver = in [dns]) a validating resolver, e.g. a local Unbound.',
      details,
    };
  }
  const critical = d.findings.filter((f) => f.severity === 'critical');
  const first =
    critical.find((f) => f.fix) ?? critical[0] ?? d.findings.find((f) => f.severity === 'warning');
  if (d.chain === 'indeterminate' && critical.length === 0) {
    return {
      ...base,
      status: 'unknown',
      message: `The resolver gave no verdict on ${zone}${first ? `: ${first.message.replace(/\.$/, '')}` : ''}.`,
      fix: 'Check that the resolver answers and validates, then run the check again.',
      details,
    };
  }
  // a DS is the registrar's part: hand it over even when the first finding forgot to
  let fix = first?.fix;
  if (d.registrar.length > 0 && (fix === undefined || !fix.includes(d.registrar[0]!.ds))) {
    const ds = `Give the registrar of ${zone} this DS record:\n${d.registrar.map((r) => r.ds).join('\n')}`;
    fix = fix === undefined ? ds : `${fix}\n${ds}`;
  }
  return {
    ...base,
    status: critical.length > 0 || d.chain === 'bogus' || d.signing !== 'signed' ? 'fail' : 'warn',
    message: first
      ? first.message.replace(/\s*\n\s*/g, ' ')
      : `${zone} has no secure chain of trust (chain ${d.chain}).`,
    ...(fix !== undefined ? { fix } : {}),
    details,
  };
};

/** In the seed's order: the mail server, DKIM, the DNS, MX, DNSSEC. */
export const RULES: readonly PrereqRule[] = [
  starttlsRule,
  dkimRule,
  dnsBackendRule,
  delegationRule,
  mxRule,
  dnssecRule,
];
