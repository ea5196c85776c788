import type { Actor, CausationContext } from '../events';

/** Who is asking, and under which request id. Built by the API's auth guard or the CLI. */
export interface RequestContext {
  readonly actor: Actor;
  readonly requestId: string;
}

export function isAdmin(actor: Actor): boolean {
  return actor.roles.includes('admin');
}

/** Nova's PROJECT_MEMBER_OR_ADMIN: who may change things, such as taking a snapshot. */
export function isMemberOrAdmin(actor: Actor): boolean {
  return actor.roles.includes('member') || isAdmin(actor);
}

/** A command starts a correlation: the request id is both correlation and first cause. */
export function causationFromRequest(request: RequestContext): CausationContext {
  return {
    actor: request.actor,
    requestId: request.requestId,
    correlationId: request.requestId,
    causationId: request.requestId,
  };
}

/** Another project's resource is reported as not found, never as forbidden. */
export function canSee(actor: Actor, projectId: string | null): boolean {
  return isAdmin(actor) || (projectId !== null && projectId === actor.projectId);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
