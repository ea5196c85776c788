import { createHash, randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { AdminTokenBootstrap } from '../../admin-token.port';
import type { Actor } from '../../events';
import { AuthToken } from '../../auth-store/auth-token.entity';

export const KNOWN_ROLES = ['reader', 'member', 'admin'] as const;
export type Role = (typeof KNOWN_ROLES)[number];

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = () => randomBytes(32).toString('base64url');

export interface IssuedToken {
  readonly token: string;
  readonly actor: Actor;
  readonly expiresAt: string | null;
  readonly issuedAt: string;
}

/** What a live token stands for, and when it was issued and expires. */
export interface TokenRecord {
  readonly actor: Actor;
  readonly issuedAt: string;
  readonly expiresAt: string | null;
}

interface TokenRequest {
  readonly userId: string;
  /** The user account's name, when the token is issued to one (recorded with its events). */
  readonly userName?: string;
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly ttlSeconds?: number;
}

/** Issues and checks X-Auth-Token tokens. Tokens are stored hashed. */
export class TokenService implements AdminTokenBootstrap {
  constructor(private readonly db: DataSource) {}

  async issue(input: TokenRequest): Promise<IssuedToken> {
    for (const role of input.roles) {
      if (!(KNOWN_ROLES as readonly string[]).includes(role)) {
        throw new Error(`unknown role "${role}" (known: ${KNOWN_ROLES.join(', ')})`);
      }
    }
    if (!input.userId || !input.projectId) throw new Error('a token needs a user and a project');
    const token = newToken();
    const { issuedAt, expiresAt } = await this.store(token, input);
    return {
      token,
      actor: actorOf(input.userId, input.userName ?? null, input.projectId, input.roles),
      expiresAt,
      issuedAt,
    };
  }

  /** The actor a token stands for, or null when it is unknown, expired or revoked. */
  async verify(token: string, now = new Date()): Promise<Actor | null> {
    return (await this.describe(token, now))?.actor ?? null;
  }

  /** A live token's actor and times, or null when it is unknown, expired or revoked. */
  async describe(token: string, now = new Date()): Promise<TokenRecord | null> {
    if (!token) return null;
    const row = await this.db.getRepository(AuthToken).findOneBy({ tokenHash: hash(token) });
    if (!row || row.revokedAt) return null;
    if (row.expiresAt && new Date(row.expiresAt).getTime() <= now.getTime()) return null;
    return {
      actor: actorOf(row.userId, row.userName, row.projectId, row.roles.split(',').filter(Boolean)),
      issuedAt: row.createdAt,
      expiresAt: row.expiresAt,
    };
  }

  async revoke(token: string): Promise<boolean> {
    const result = await this.db
      .getRepository(AuthToken)
      .update({ tokenHash: hash(token) }, { revokedAt: new Date().toISOString() });
    return (result.affected ?? 0) > 0;
  }

  /**
   * On first start, when no token exists, makes an admin token and writes it to
   * <dataDir>/admin-token with mode 0600. Returns the file path, or null if tokens existed.
   * The file comes first (created 0600 under a temporary name, then renamed into place) and
   * the row after: a crash in between leaves no row, so the next start tries again.
   */
  async bootstrapAdmin(dataDir: string, projectId: string): Promise<string | null> {
    if ((await this.db.getRepository(AuthToken).count()) > 0) return null;
    const token = newToken();
    const path = join(dataDir, 'admin-token');
    const temp = `${path}.${process.pid}.tmp`;
    await rm(temp, { force: true });
    await writeFile(temp, `${token}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
    await this.store(token, { userId: 'admin', projectId, roles: ['admin', 'member', 'reader'] });
    return path;
  }

  /** Stores a token's hash with its actor; returns when it was issued and expires. */
  private async store(
    token: string,
    input: TokenRequest,
  ): Promise<{ issuedAt: string; expiresAt: string | null }> {
    const now = new Date();
    const expiresAt = input.ttlSeconds
      ? new Date(now.getTime() + input.ttlSeconds * 1000).toISOString()
      : null;
    await this.db.getRepository(AuthToken).insert({
      tokenHash: hash(token),
      userId: input.userId,
      userName: input.userName ?? null,
      projectId: input.projectId,
      roles: [...input.roles].join(','),
      createdAt: now.toISOString(),
      expiresAt,
      revokedAt: null,
    });
    return { issuedAt: now.toISOString(), expiresAt };
  }
}

/** A token's actor; the user's name only when there is one, so older actors keep their shape. */
function actorOf(
  userId: string,
  userName: string | null,
  projectId: string,
  roles: readonly string[],
): Actor {
  return { userId, ...(userName ? { userName } : {}), projectId, roles: [...roles] };
}
