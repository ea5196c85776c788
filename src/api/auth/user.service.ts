import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { decoyPasswordHash, hashPassword, verifyPassword } from './password-hash';
import { KNOWN_ROLES } from './token.service';
import { UserAccount } from '../../auth-store/user-account.entity';
import { isUniqueViolation } from '../../database/unique-violation';

/** A user name that is already taken. */
export class UserExistsError extends Error {
  constructor(name: string) {
    super(`a user named "${name}" already exists`);
    this.name = 'UserExistsError';
  }
}

export interface NewUser {
  readonly name: string;
  readonly password: string;
  readonly projectId: string;
  readonly roles: readonly string[];
}

/** How the caller names the user signing in: by id, or by name (in the Default domain). */
export type UserReference = { readonly id: string } | { readonly name: string };

export interface UserSummary {
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly roles: readonly string[];
}

const MAX_NAME = 255;
const MAX_PASSWORD = 4096;

const summaryOf = (row: UserAccount): UserSummary => ({
  id: row.id,
  name: row.name,
  projectId: row.projectId,
  roles: row.roles.split(',').filter(Boolean),
});

/** Checks a new user's fields; returns an error message or null. */
export function newUserProblem(input: NewUser): string | null {
  const printable = (s: string) => !/[\p{Cc}]/u.test(s);
  if (!input.name.trim() || input.name.length > MAX_NAME || !printable(input.name))
    return `the user name must be 1 to ${MAX_NAME} printable characters`;
  if (!input.projectId.trim() || input.projectId.length > MAX_NAME || !printable(input.projectId))
    return `the project id must be 1 to ${MAX_NAME} printable characters`;
  if (input.password.length === 0 || input.password.length > MAX_PASSWORD)
    return `the password must be 1 to ${MAX_PASSWORD} characters`;
  if (input.roles.length === 0) return 'a user needs at least one role';
  for (const role of input.roles) {
    if (!(KNOWN_ROLES as readonly string[]).includes(role))
      return `unknown role "${role}" (known: ${KNOWN_ROLES.join(', ')})`;
  }
  return null;
}

/** Users of the Keystone password method, in the service state database. */
export class UserService {
  constructor(private readonly db: DataSource) {}

  /** Creates a user; refuses a name already taken (UserExistsError). */
  async create(input: NewUser): Promise<UserSummary> {
    const problem = newUserProblem(input);
    if (problem) throw new Error(problem);
    const repo = this.db.getRepository(UserAccount);
    if (await repo.existsBy({ name: input.name })) throw new UserExistsError(input.name);
    const row: UserAccount = {
      id: randomUUID().replaceAll('-', ''),
      name: input.name,
      projectId: input.projectId,
      roles: [...new Set(input.roles)].join(','),
      passwordHash: await hashPassword(input.password),
      createdAt: new Date().toISOString(),
    };
    try {
      await repo.insert(row);
    } catch (error) {
      // Another process took the name between the check and the insert.
      if (isUniqueViolation(error)) throw new UserExistsError(input.name);
      throw error;
    }
    return summaryOf(row);
  }

  async findById(id: string): Promise<UserSummary | null> {
    const row = await this.db.getRepository(UserAccount).findOneBy({ id });
    return row ? summaryOf(row) : null;
  }

  /**
   * The user whose password this is, or null. An unknown user costs one scrypt too, so the
   * answer time does not tell which names exist.
   */
  async authenticate(user: UserReference, password: string): Promise<UserSummary | null> {
    const repo = this.db.getRepository(UserAccount);
    const row =
      'id' in user
        ? await repo.findOneBy({ id: user.id })
        : await repo.findOneBy({ name: user.name });
    if (!row) {
      await verifyPassword(password, await decoyPasswordHash());
      return null;
    }
    return (await verifyPassword(password, row.passwordHash)) ? summaryOf(row) : null;
  }
}
