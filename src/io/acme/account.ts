/**
 * The ACME account: registered once per directory; its key and URL are the caller's to persist
 * (the store, 0600). The key PEM never appears in a message.
 */
import { AcmeClient, generateAccountKey, type AcmeClientOptions } from './client.js';

export interface AccountSettings extends Omit<AcmeClientOptions, 'accountKeyPem' | 'accountUrl'> {
  email?: string;
}

export interface Account {
  keyPem: string;
  url: string;
  /** true when this call registered it (the caller must persist keyPem and url now) */
  created: boolean;
  client: AcmeClient;
}

/**
 * Loads the stored account, or registers one. With a stored key and URL, no request is made;
 * a stored key without URL is looked up (RFC 8555 §7.3.1) and registered if the CA does not
 * know it (same key, so a crash between registering and storing the URL costs nothing).
 */
export async function ensureAccount(
  settings: AccountSettings,
  stored?: { keyPem: string; url?: string },
): Promise<Account> {
  const keyPem = stored?.keyPem ?? generateAccountKey();
  if (stored?.url !== undefined) {
    return {
      keyPem,
      url: stored.url,
      created: false,
      client: new AcmeClient({ ...settings, accountKeyPem: keyPem, accountUrl: stored.url }),
    };
  }
  const client = new AcmeClient({ ...settings, accountKeyPem: keyPem });
  const url = await client.register({
    ...(settings.email !== undefined ? { email: settings.email } : {}),
    agreeToTerms: true,
  });
  return { keyPem, url, created: true, client };
}
