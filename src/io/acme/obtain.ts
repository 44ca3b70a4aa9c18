/**
 * One certificate from an order: authorizations answered by the solver, a CSR from the domain's
 * own key, finalize, the chain downloaded as the CA returns it. Does exactly that and reports
 * what happened; when to renew and what to do with the chain is the planner's business.
 */
import { AcmeError, type AcmeClient, type Authorization } from './client.js';
import { issuedFacts, splitChain, type IssuedFacts } from './certid.js';
import { makeCsr } from './csr.js';
import type { ChallengeItem, ChallengeSolver } from './solver.js';

const MAX_ALTERNATES = 8;

export interface ObtainRequest {
  names: string[];
  /** the domain's key (PEM): reused across renewals, so the `3 1 1` record stays valid */
  keyPem: string;
  solver: ChallengeSolver;
  /** RFC 9773 §5: the ARI CertID of the certificate this one replaces */
  replaces?: string;
  profile?: string;
}

export interface Obtained extends IssuedFacts {
  /** the chain exactly as the CA returned it, leaf first */
  chainPem: string;
  /** number of certificates in the chain */
  chainLength: number;
  /**
   * RFC 8555 §7.4.2: every alternate chain the CA offered for this certificate, as returned
   * (leaf first); the issuers of all chains are the CA's current issuers for `--issuer-records`
   */
  alternateChains: string[];
  /** alternates that could not be downloaded (the certificate itself is fine): one line each */
  alternateErrors: string[];
  orderUrl: string;
  replacesSent: boolean;
  profileSent: boolean;
  /** names whose authorization was already valid (reused by the CA) */
  reusedAuthorizations: string[];
}

export async function obtainCertificate(client: AcmeClient, r: ObtainRequest): Promise<Obtained> {
  const order = await client.newOrder({
    names: r.names,
    ...(r.replaces !== undefined ? { replaces: r.replaces } : {}),
    ...(r.profile !== undefined ? { profile: r.profile } : {}),
  });
  const authzs: Authorization[] = [];
  for (const url of order.authorizations) authzs.push(await client.authorization(url));

  const pending = authzs.filter((a) => a.status === 'pending');
  const reused = authzs.filter((a) => a.status === 'valid').map((a) => a.identifier.value);
  const bad = authzs.find((a) => a.status !== 'pending' && a.status !== 'valid');
  if (bad) {
    throw new AcmeError(
      'protocol',
      'E_ACME_CHALLENGE_FAILED',
      `The CA's authorization for ${bad.identifier.value} is ${bad.status}`,
    );
  }
  const work: { authz: Authorization; url: string; item: ChallengeItem }[] = [];
  for (const a of pending) {
    const ch = a.challenges.find((c) => c.type === r.solver.type);
    if (!ch || ch.token === undefined) {
      throw new AcmeError(
        'config',
        'E_ACME_CHALLENGE_TYPE',
        `The CA offers no ${r.solver.type} challenge for ${a.identifier.value} (it offers ${a.challenges.map((c) => c.type).join(', ') || 'none'})`,
      );
    }
    work.push({
      authz: a,
      url: ch.url,
      item: {
        name: a.identifier.value,
        token: ch.token,
        keyAuthorization: client.keyAuthorization(ch.token),
      },
    });
  }

  if (work.length > 0) {
    try {
      await r.solver.prepare(work.map((w) => w.item));
      for (const w of work) await client.respond(w.url);
      for (const w of work) await client.waitAuthorization(w.authz.url);
    } catch (e) {
      // the failure that stopped the order is what the caller must see; a cleanup that fails
      // too is retried by the next run (the values are ours to remove)
      await r.solver.cleanup().catch(() => undefined);
      throw e;
    }
    await r.solver.cleanup();
  }

  const done = await client.finalize(order, makeCsr(r.keyPem, r.names));
  const { chainPem, alternates } = await client.certificateChains(done.certificate!);
  const certs = splitChain(chainPem);
  // RFC 8555 §7.4.2: the same certificate under other issuers. A CA that lists a great many is
  // not followed past MAX_ALTERNATES; one that fails to download is reported, not fatal: the
  // certificate was issued, and ordering again would only spend the CA's rate limits.
  const alternateChains: string[] = [];
  const alternateErrors: string[] = [];
  for (const url of alternates.slice(0, MAX_ALTERNATES)) {
    try {
      const alt = await client.certificate(url);
      const leaf = splitChain(alt)[0];
      if (leaf && leaf.replace(/\s+/g, '') === certs[0]?.replace(/\s+/g, '')) {
        alternateChains.push(alt);
      } else {
        alternateErrors.push(`${url}: not the same certificate`);
      }
    } catch (e) {
      alternateErrors.push(`${url}: ${(e as Error).message}`);
    }
  }
  return {
    ...issuedFacts(certs[0]!),
    chainPem,
    chainLength: certs.length,
    alternateChains,
    alternateErrors,
    orderUrl: order.url,
    replacesSent: order.replacesSent,
    profileSent: order.profileSent,
    reusedAuthorizations: reused,
  };
}
