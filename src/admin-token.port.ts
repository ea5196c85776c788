/**
 * Writes a first admin token when no API token exists yet (TokenService in api/auth does it).
 * The service lifecycle calls it at start-up through this port, not through the API layer.
 */
export interface AdminTokenBootstrap {
  /** The file the new token was written to, or null if tokens already existed. */
  bootstrapAdmin(dataDir: string, projectId: string): Promise<string | null>;
}
export const ADMIN_TOKEN_BOOTSTRAP = Symbol('AdminTokenBootstrap');
