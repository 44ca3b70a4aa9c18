/**
 * One order for owner names in listings: RFC 4034 §6.1 canonical DNS order (labels compared
 * from the right, lower case), so the TLSA RRsets of one host sit together
 * (`_25._tcp.mx.example.org.` next to `_465._tcp.mx.example.org.`) whatever their ports.
 * Labels are compared as the lower-case presentation text, which is the canonical order for the
 * letters, digits, `_` and `-` that owners of TLSA records use.
 */
export function byOwner(a: string, b: string): number {
  const la = a.toLowerCase().replace(/\.$/, '').split('.').reverse();
  const lb = b.toLowerCase().replace(/\.$/, '').split('.').reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    const x = la[i]!;
    const y = lb[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return la.length - lb.length;
}
