/** Injection token: seconds a token from `POST /identity/v3/auth/tokens` stays valid. */
export const IDENTITY_TOKEN_TTL = Symbol('IDENTITY_TOKEN_TTL');

/** Keystone's default token lifetime is 1 h; 12 h spares long scripted sessions a re-login. */
export const DEFAULT_IDENTITY_TOKEN_TTL = 12 * 60 * 60;

/** SNAPLEDGER_IDENTITY_TOKEN_TTL (seconds, 60 to 30 days), read at start-up. */
export function identityTokenTtlFrom(env: NodeJS.ProcessEnv): number {
  const value = env.SNAPLEDGER_IDENTITY_TOKEN_TTL?.trim();
  if (!value) return DEFAULT_IDENTITY_TOKEN_TTL;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 60 || n > 30 * 24 * 60 * 60)
    throw new Error(
      `SNAPLEDGER_IDENTITY_TOKEN_TTL must be whole seconds from 60 to 2592000, got "${value}"`,
    );
  return n;
}
