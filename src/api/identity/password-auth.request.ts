/**
 * Parsing of a Keystone v3 `POST /auth/tokens` body with the password method. Pure: it
 * says what was asked, or why the body is malformed (400) or cannot be honoured (401).
 */

/** The only domain there is. */
export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;

export type ProjectScope = { readonly projectId: string } | { readonly projectName: string };

export interface PasswordAuthRequest {
  readonly user: { readonly id: string } | { readonly name: string };
  readonly password: string;
  /** null: no scope given; the token is scoped to the user's own project, as Keystone does. */
  readonly scope: ProjectScope | null;
}

export type ParsedAuth =
  | { readonly ok: true; readonly request: PasswordAuthRequest }
  | { readonly ok: false; readonly status: 400 | 401; readonly message: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isText = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= 4096;

const bad = (message: string): ParsedAuth => ({ ok: false, status: 400, message });
const denied = (message: string): ParsedAuth => ({ ok: false, status: 401, message });

/** Whether a `{"id"}` or `{"name"}` domain reference names the Default domain. */
export function isDefaultDomain(domain: Record<string, unknown>): boolean {
  const given = typeof domain.id === 'string' ? domain.id : domain.name;
  return given === DEFAULT_DOMAIN.id || given === DEFAULT_DOMAIN.name;
}

/** A domain reference: 'default', 'other' (valid but not ours) or 'malformed'. */
function domainOf(value: unknown): 'default' | 'other' | 'malformed' {
  if (!isObject(value) || (!isText(value.id) && !isText(value.name))) return 'malformed';
  return isDefaultDomain(value) ? 'default' : 'other';
}

export function parsePasswordAuth(body: unknown): ParsedAuth {
  if (!isObject(body) || !isObject(body.auth))
    return bad('Expecting to find auth in request body.');
  const { identity, scope } = body.auth;
  if (!isObject(identity)) return bad('Expecting to find identity in auth.');
  const methods = identity.methods;
  if (
    !Array.isArray(methods) ||
    methods.length === 0 ||
    !methods.every((m) => typeof m === 'string')
  )
    return bad('Expecting to find methods in identity.');
  if (!methods.includes('password') || methods.length !== 1)
    return denied('Attempted to authenticate with an unsupported method.');
  const password = identity.password;
  if (!isObject(password) || !isObject(password.user))
    return bad('Expecting to find user in password.');
  const user = password.user;
  if (typeof user.password !== 'string' || user.password.length > 4096)
    return bad('Expecting to find password in user.');
  let reference: PasswordAuthRequest['user'];
  if (user.id !== undefined) {
    if (!isText(user.id)) return bad('Invalid user id.');
    reference = { id: user.id };
  } else if (user.name !== undefined) {
    if (!isText(user.name)) return bad('Invalid user name.');
    const domain = domainOf(user.domain);
    if (domain === 'malformed') return bad('Expecting to find domain in user.');
    if (domain === 'other') return denied('The request you have made requires authentication.');
    reference = { name: user.name };
  } else {
    return bad('Expecting to find id or name in user.');
  }
  const parsedScope = parseScope(scope);
  if ('message' in parsedScope) return parsedScope;
  return {
    ok: true,
    request: { user: reference, password: user.password, scope: parsedScope.scope },
  };
}

function parseScope(
  scope: unknown,
): { readonly scope: ProjectScope | null } | Extract<ParsedAuth, { ok: false }> {
  if (scope === undefined || scope === null) return { scope: null };
  if (scope === 'unscoped') return { scope: null };
  if (!isObject(scope)) return { ok: false, status: 400, message: 'Invalid scope.' };
  if (
    scope.system !== undefined ||
    scope.domain !== undefined ||
    scope.OS_TRUST_TRUST !== undefined
  )
    return {
      ok: false,
      status: 401,
      message: 'Only project scope is supported; the user has no role on that target.',
    };
  const project = scope.project;
  if (!isObject(project))
    return { ok: false, status: 400, message: 'Expecting to find project in scope.' };
  if (project.id !== undefined) {
    if (!isText(project.id)) return { ok: false, status: 400, message: 'Invalid project id.' };
    return { scope: { projectId: project.id } };
  }
  if (!isText(project.name))
    return { ok: false, status: 400, message: 'Expecting to find id or name in project.' };
  const domain = domainOf(project.domain);
  if (domain === 'malformed')
    return { ok: false, status: 400, message: 'Expecting to find domain in project.' };
  if (domain === 'other')
    return {
      ok: false,
      status: 401,
      message: 'The request you have made requires authentication.',
    };
  return { scope: { projectName: project.name } };
}

/** The project a scope names: a project's name is its id. */
export const projectIdOf = (scope: ProjectScope): string =>
  'projectId' in scope ? scope.projectId : scope.projectName;
