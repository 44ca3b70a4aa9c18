/**
 * The resolver every command asks: `--resolver` (repeatable) when given, else `resolver =` in
 * [dns], else resolv.conf; its timeout and tries from resolv.conf's options, else 3 s and 2.
 */
import { loadResolverConfig } from './config.js';
import { StubResolver } from './resolver.js';

export async function openResolver(
  flags: readonly string[] | undefined,
  configured?: string,
): Promise<StubResolver> {
  const resolver = flags && flags.length > 0 ? [...flags] : configured ? [configured] : [];
  const conf = await loadResolverConfig({ resolver });
  return new StubResolver({
    servers: conf.servers,
    timeoutMs: conf.timeoutMs ?? 3000,
    tries: conf.attempts ?? 2,
  });
}
