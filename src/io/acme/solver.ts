/** What a challenge solver does: make answers available, then take them away. */
export interface ChallengeItem {
  /** the name being validated (without a wildcard's `*.`) */
  name: string;
  token: string;
  /** RFC 8555 §8.1 */
  keyAuthorization: string;
}

export interface ChallengeSolver {
  /** the RFC 8555 challenge type it answers */
  readonly type: 'http-01' | 'dns-01';
  /** makes every answer available; resolves only once the CA can see them */
  prepare(items: ChallengeItem[]): Promise<void>;
  /** removes what prepare made (also after a failure); idempotent */
  cleanup(): Promise<void>;
}
