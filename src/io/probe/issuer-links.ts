/**
 * The fallback when the Certificate message cannot be read: Node's own chain, walked by issuer
 * links. Leaf first, then issuers in issuer order; certificates the server sent that are not on
 * that path are missing. Node also appends issuers it finds in the context's trust store, which
 * is why the probe's context trusts only a placeholder certificate that issues nothing.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

export function chainFromIssuerLinks(socket: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // A self-signed certificate links to itself; 32 is far beyond any real chain.
  while (cert?.raw && out.length < 32) {
    out.push(Buffer.from(cert.raw));
    const next: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!next || next === cert || next.raw?.equals(cert.raw)) break;
    cert = next;
  }
  return out;
}
