/**
 * Key + chain pairs for the deploy tests, and the check every test makes of a --cert-dir: the
 * four names resolve to one matching pair (DESIGN.md: "holds, at all times, a matching
 * privkey.pem and fullchain.pem (leaf first), plus cert.pem and chain.pem").
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, makePki, type Issued } from './pki.js';

export interface TestPair {
  keyPem: string;
  chainPem: string;
  leafPem: string;
  intermediatePem: string;
  /** X509Certificate fingerprint256 of the leaf, to tell pairs apart */
  fingerprint: string;
}

function toPair(leaf: Issued, intermediate: Issued): TestPair {
  return {
    keyPem: leaf.keyPem,
    chainPem: leaf.certPem + intermediate.certPem,
    leafPem: leaf.certPem,
    intermediatePem: intermediate.certPem,
    fingerprint: new X509Certificate(leaf.certPem).fingerprint256,
  };
}

/** `n` pairs for one host under one intermediate (as successive renewals look). */
export function makePairs(dir: string, n: number, host = 'mail.example.test'): TestPair[] {
  const pki = makePki(dir, { names: [host] });
  const pairs = [toPair(pki.leaf, pki.intermediate)];
  for (let i = 1; i < n; i++) {
    const leaf = issue(
      dir,
      `leaf${i}`,
      { cn: host, alg: i % 2 ? 'rsa2048' : 'p256' },
      pki.intermediate,
    );
    pairs.push(toPair(leaf, pki.intermediate));
  }
  return pairs;
}

export interface DirPair {
  /** fingerprint of cert.pem's leaf */
  fingerprint: string;
}

/**
 * Reads the four names (following links as a service does) and throws unless they form one
 * pair: the key belongs to cert.pem's leaf, fullchain.pem is cert.pem then chain.pem.
 */
export function readMatchingPair(dir: string): DirPair {
  const read = (n: string) => readFileSync(join(dir, n), 'utf8');
  const key = createPrivateKey(read('privkey.pem'));
  const cert = read('cert.pem');
  const chain = read('chain.pem');
  const full = read('fullchain.pem');
  const leaf = new X509Certificate(cert);
  const fullLeaf = new X509Certificate(full);
  if (fullLeaf.fingerprint256 !== leaf.fingerprint256)
    throw new Error(`${dir}: fullchain.pem's leaf is not cert.pem`);
  if (norm(full) !== norm(cert + chain))
    throw new Error(`${dir}: fullchain.pem is not cert.pem followed by chain.pem`);
  const a = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const b = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (!a.equals(b)) throw new Error(`${dir}: privkey.pem does not belong to cert.pem`);
  return { fingerprint: leaf.fingerprint256 };
}

function norm(pem: string): string {
  return pem.replace(/\r/g, '').replace(/\n+/g, '\n').trim();
}
