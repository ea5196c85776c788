import { apiFamilyOf, type ApiFamily } from '../api-family';

/** The document's tag for each API family, for routes whose controller names none. */
export const FAMILY_TAGS: Readonly<Record<ApiFamily, { name: string; description: string }>> = {
  nova: { name: 'compute', description: 'Nova compute API subset (/v2.1)' },
  glance: { name: 'image', description: 'Glance image API subset (/v2)' },
  keystone: { name: 'identity', description: 'Keystone v3 token subset (/identity)' },
  native: { name: 'snapledger', description: 'snapledger native API (/v1 and the rest)' },
};

/** The parts of an OpenAPI document this module reads and changes. */
export interface OpenApiOperationLike {
  tags?: string[];
  operationId?: string;
  security?: Record<string, string[]>[];
}
export interface OpenApiDocumentLike {
  paths: Record<string, object>;
  tags?: { name: string; description?: string }[];
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

/**
 * Gives every operation without a tag the tag of its API family (by path), lists those tags,
 * and marks public operations (by operationId) as needing no token (`security: []`).
 * Changes the document in place and returns it.
 */
export function tagAndSecureOperations<T extends OpenApiDocumentLike>(
  document: T,
  publicOperationIds: ReadonlySet<string>,
): T {
  const used = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item as Record<string, unknown>)) {
      if (!METHODS.has(method) || typeof value !== 'object' || value === null) continue;
      const operation = value as OpenApiOperationLike;
      if (!operation.tags || operation.tags.length === 0) {
        operation.tags = [FAMILY_TAGS[apiFamilyOf(path)].name];
      }
      for (const tag of operation.tags) used.add(tag);
      if (operation.operationId && publicOperationIds.has(operation.operationId)) {
        operation.security = [];
      }
    }
  }
  const tags = [...(document.tags ?? [])];
  const families = Object.values(FAMILY_TAGS);
  for (const name of used) {
    if (tags.some((t) => t.name === name)) continue;
    tags.push(families.find((f) => f.name === name) ?? { name });
  }
  document.tags = tags;
  return document;
}
