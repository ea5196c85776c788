import { GlanceRefusedError, GlanceUnavailableError, type GlanceAuth } from './glance-client';

/** Who snapledger signs in to Keystone as, to talk to Glance (SNAPLEDGER_GLANCE_AUTH_URL …). */
export interface KeystoneCredentials {
  /** Keystone's v3 endpoint, e.g. http://keystone:5000/v3. */
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
}

/**
 * Whether a token issued at `issuedAt` and expiring at `expiresAt` should be replaced at
 * `now`: in the last quarter of its life, and in any case in its last two minutes, so that a
 * request never sets out with a token about to expire.
 */
export function tokenNeedsRenewal(issuedAt: number, expiresAt: number, now: number): boolean {
  const margin = Math.min(120_000, (expiresAt - issuedAt) / 4);
  return now >= expiresAt - margin;
}

const SIGN_IN_TIMEOUT_MS = 30_000;

/**
 * Keystone password sign-in for the Glance image store: one project-scoped token, kept until
 * it nears its expiry or Glance refuses it, then a new one. Concurrent callers share one
 * sign-in. The password never leaves this object except in the sign-in request body.
 */
export class KeystoneSession implements GlanceAuth {
  readonly renewable = true;
  private current: { token: string; issuedAt: number; expiresAt: number } | null = null;
  private signingIn: Promise<string> | null = null;

  constructor(
    private readonly credentials: KeystoneCredentials,
    private readonly now: () => number = Date.now,
  ) {}

  async token(): Promise<string> {
    const held = this.current;
    if (held && !tokenNeedsRenewal(held.issuedAt, held.expiresAt, this.now())) return held.token;
    this.signingIn ??= this.signIn().finally(() => {
      this.signingIn = null;
    });
    return this.signingIn;
  }

  rejected(token: string): void {
    if (this.current?.token === token) this.current = null;
  }

  private async signIn(): Promise<string> {
    const { authUrl, username, password, projectName, userDomainName, projectDomainName } =
      this.credentials;
    const url = `${authUrl}/auth/tokens`;
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: username, domain: { name: userDomainName }, password } },
        },
        scope: { project: { name: projectName, domain: { name: projectDomainName } } },
      },
    };
    const issuedAt = this.now();
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(SIGN_IN_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new GlanceUnavailableError(
        `Keystone at ${authUrl} could not be reached to sign in for Glance: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
    }
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) {
      const message = `Keystone at ${authUrl} answered ${res.status} to the sign-in of ${username} (project ${projectName}) for Glance`;
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 500 || res.status === 408 || res.status === 429)
        throw new GlanceUnavailableError(message);
      throw new GlanceRefusedError(
        res.status,
        res.status === 201
          ? `${message} without an X-Subject-Token`
          : `${message}: check SNAPLEDGER_GLANCE_USERNAME, _PASSWORD and _PROJECT`,
      );
    }
    const parsed = (await res.json().catch(() => null)) as {
      token?: { expires_at?: string };
    } | null;
    const expiresAt = Date.parse(parsed?.token?.expires_at ?? '');
    // A token whose expiry cannot be read is kept for an hour, Keystone's default lifetime.
    this.current = {
      token,
      issuedAt,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : issuedAt + 3_600_000,
    };
    return token;
  }
}
