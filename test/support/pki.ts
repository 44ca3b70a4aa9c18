/**
 * Test PKI made at test time with the openssl CLI (the reference tool): a root CA, an
 * intermediate and leaves of any key type. Nothing here is committed key material: every
 * call writes fresh keys into the directory it is given.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCert, name as derName, rfcTime } from './der.js';

export type KeyAlg = 'rsa2048' | 'rsa4096' | 'p256' | 'p384' | 'p521' | 'ed25519' | 'ed448';

export interface Issued {
  /** PEM of the certificate */
  certPem: string;
  certFile: string;
  keyPem: string;
  keyFile: string;
  /** DER of the certificate */
  der: Buffer;
}

export function tempDir(prefix = 'dk-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function openssl(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('openssl', args, {
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function genKeyArgs(alg: KeyAlg): string[] {
  switch (alg) {
    case 'rsa2048':
      return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
    case 'rsa4096':
      return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'];
    case 'p256':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    case 'p384':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
    case 'p521':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'];
    case 'ed25519':
      return ['-algorithm', 'ED25519'];
    case 'ed448':
      return ['-algorithm', 'ED448'];
  }
}

/** Writes a new private key (PKCS#8 PEM) to `file` and returns its PEM. */
export function makeKey(file: string, alg: KeyAlg): string {
  openssl(['genpkey', ...genKeyArgs(alg), '-out', file]);
  return readFileSync(file, 'utf8');
}

export interface CertOptions {
  /** subject CN */
  cn: string;
  /** DNS subjectAltNames; default [cn] for leaves, none for CAs */
  dnsNames?: string[];
  alg?: KeyAlg;
  /** reuse an existing key file instead of making one */
  keyFile?: string;
  ca?: boolean;
  /** validity window relative to now, in days (negative = past) */
  notBeforeDays?: number;
  notAfterDays?: number;
}

/** Issues a certificate signed by `issuer`, or self-signed when `issuer` is undefined. */
export function issue(dir: string, name: string, opts: CertOptions, issuer?: Issued): Issued {
  const keyFile = opts.keyFile ?? join(dir, `${name}.key`);
  if (!opts.keyFile) makeKey(keyFile, opts.alg ?? 'p256');
  const certFile = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  const lines = opts.ca
    ? [
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier=hash',
      ]
    : [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectKeyIdentifier=hash',
      ];
  const names = opts.dnsNames ?? (opts.ca ? [] : [opts.cn]);
  if (names.length > 0) lines.push(`subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`);
  if (issuer) lines.push('authorityKeyIdentifier=keyid');
  writeFileSync(ext, lines.join('\n') + '\n');
  const csr = openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${opts.cn}`]);
  const start = fmtDate(opts.notBeforeDays ?? -1);
  const end = fmtDate(opts.notAfterDays ?? 90);
  // `openssl x509 -req` cannot set an arbitrary notBefore; `openssl ca` can but wants a
  // database. A minimal ca config keeps dates exact for the expired/not-yet-valid cases.
  const caDir = join(dir, `${name}.ca`);
  execFileSync('mkdir', ['-p', caDir]);
  writeFileSync(join(caDir, 'index.txt'), '');
  writeFileSync(join(caDir, 'serial'), randomSerial() + '\n');
  const conf = join(caDir, 'ca.cnf');
  writeFileSync(
    conf,
    [
      '[ca]',
      'default_ca=dk',
      '[dk]',
      `dir=${caDir}`,
      `database=${caDir}/index.txt`,
      `serial=${caDir}/serial`,
      `new_certs_dir=${caDir}`,
      'default_md=sha256',
      'policy=anything',
      'unique_subject=no',
      'copy_extensions=none',
      '[anything]',
      'commonName=supplied',
    ].join('\n') + '\n',
  );
  const csrFile = join(caDir, 'req.csr');
  writeFileSync(csrFile, csr);
  const args = [
    'ca',
    '-batch',
    '-config',
    conf,
    '-in',
    csrFile,
    '-out',
    certFile,
    '-startdate',
    start,
    '-enddate',
    end,
    '-extfile',
    ext,
    '-notext',
  ];
  if (issuer) args.push('-cert', issuer.certFile, '-keyfile', issuer.keyFile);
  else args.push('-selfsign', '-keyfile', keyFile);
  openssl(args);
  const certPem = readFileSync(certFile, 'utf8');
  return {
    certPem,
    certFile,
    keyFile,
    keyPem: readFileSync(keyFile, 'utf8'),
    der: openssl(['x509', '-in', certFile, '-outform', 'DER']),
  };
}

function fmtDate(days: number): string {
  const d = new Date(Date.now() + days * 86400_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`
  );
}

function randomSerial(): string {
  let s = '';
  for (let i = 0; i < 16; i++)
    s += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  return '1' + s.slice(1);
}

export interface Pki {
  dir: string;
  root: Issued;
  intermediate: Issued;
  leaf: Issued;
  /** leaf then intermediate, PEM, as a server sends it */
  chainFile: string;
}

/** Root -> intermediate -> leaf, the shape of a public CA's chain. */
export function makePki(
  dir: string,
  opts: {
    leafAlg?: KeyAlg;
    caAlg?: KeyAlg;
    names?: string[];
    leafNotBeforeDays?: number;
    leafNotAfterDays?: number;
    prefix?: string;
  } = {},
): Pki {
  const p = opts.prefix ?? '';
  const names = opts.names ?? ['mail.example.test'];
  const root = issue(dir, `${p}root`, {
    cn: `${p}Test Root CA`,
    ca: true,
    alg: opts.caAlg ?? 'p256',
    notAfterDays: 3650,
  });
  const intermediate = issue(
    dir,
    `${p}int`,
    { cn: `${p}Test Intermediate`, ca: true, alg: opts.caAlg ?? 'p256', notAfterDays: 1800 },
    root,
  );
  const leaf = issue(
    dir,
    `${p}leaf`,
    {
      cn: names[0]!,
      dnsNames: names,
      alg: opts.leafAlg ?? 'p256',
      notBeforeDays: opts.leafNotBeforeDays ?? -1,
      notAfterDays: opts.leafNotAfterDays ?? 90,
    },
    intermediate,
  );
  const chainFile = join(dir, `${p}chain.pem`);
  writeFileSync(chainFile, leaf.certPem + intermediate.certPem);
  return { dir, root, intermediate, leaf, chainFile };
}

/**
 * The bare certificate DANE-EE deployments use (RFC 7671 §5.1: names and dates do not matter):
 * self-signed, empty subject and issuer, no extensions, and notAfter a year before notBefore.
 * Built from DER (test/support/der.ts): openssl's commands refuse to make one.
 */
export function makeBareCert(dir: string, name = 'bare', alg: KeyAlg = 'ed25519'): Issued {
  const keyFile = join(dir, `${name}.key`);
  const keyPem = makeKey(keyFile, alg);
  const key = createPrivateKey(keyPem);
  const der = buildCert({
    issuer: derName([]),
    subject: derName([]),
    notBefore: rfcTime(new Date('2030-01-01T00:00:00Z')),
    notAfter: rfcTime(new Date('2029-01-01T00:00:00Z')),
    spki: createPublicKey(key).export({ type: 'spki', format: 'der' }),
    signer: key,
  });
  const certPem = toPemText('CERTIFICATE', der);
  const certFile = join(dir, `${name}.crt`);
  writeFileSync(certFile, certPem);
  return { certPem, certFile, keyPem, keyFile, der };
}

function toPemText(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * A self-signed certificate made the way the DANE how-tos make one: `openssl req -x509`, which
 * (with Debian's openssl.cnf) marks it basicConstraints CA:TRUE.
 */
export function makeSelfSigned(
  dir: string,
  name: string,
  cn: string,
  alg: KeyAlg = 'p256',
): Issued {
  const keyFile = join(dir, `${name}.key`);
  const keyPem = makeKey(keyFile, alg);
  const certFile = join(dir, `${name}.crt`);
  openssl([
    'req',
    '-new',
    '-x509',
    '-key',
    keyFile,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '365',
    '-out',
    certFile,
  ]);
  const certPem = readFileSync(certFile, 'utf8');
  return {
    certPem,
    certFile,
    keyFile,
    keyPem,
    der: openssl(['x509', '-in', certFile, '-outform', 'DER']),
  };
}
