import { ApiError } from './api';

/** Who the token belongs to, from the identity API's token body. */
export interface Session {
  token: string;
  userId: string;
  userName: string;
  projectId: string;
  roles: string[];
  expiresAt: string;
}

interface KeystoneTokenBody {
  token: {
    user: { id: string; name: string };
    project?: { id: string };
    roles?: { name: string }[];
    expires_at: string;
  };
}

const STORAGE_KEY = 'snapledger.session';

const sessionOf = (token: string, body: KeystoneTokenBody): Session => ({
  token,
  userId: body.token.user.id,
  userName: body.token.user.name,
  projectId: body.token.project?.id ?? '',
  roles: (body.token.roles ?? []).map((r) => r.name),
  expiresAt: body.token.expires_at,
});

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (body.error?.message) message = body.error.message;
  } catch {
    // keep the status line
  }
  return new ApiError(res.status, message);
}

/** Signs in with a token from `snapledger user token` or `openstack token issue`. */
export async function signInWithToken(token: string): Promise<Session> {
  const res = await fetch('/identity/v3/auth/tokens', {
    headers: { 'X-Auth-Token': token, 'X-Subject-Token': token, Accept: 'application/json' },
  });
  if (!res.ok) throw await failure(res);
  return sessionOf(token, (await res.json()) as KeystoneTokenBody);
}

/** Signs in with a user name and password (Keystone's password method). */
export async function signInWithPassword(name: string, password: string): Promise<Session> {
  const res = await fetch('/identity/v3/auth/tokens', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name, domain: { id: 'default' }, password } },
        },
      },
    }),
  });
  if (!res.ok) throw await failure(res);
  const token = res.headers.get('X-Subject-Token');
  if (!token) throw new ApiError(res.status, 'The identity service sent no token.');
  return sessionOf(token, (await res.json()) as KeystoneTokenBody);
}

/** Kept for this tab only: closing it signs out. */
export function storedSession(): Session | null {
  const text = sessionStorage.getItem(STORAGE_KEY);
  if (text === null) return null;
  try {
    const session = JSON.parse(text) as Session;
    return Date.parse(session.expiresAt) > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function keepSession(session: Session | null): void {
  if (session === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}
