/** What Express leaves on a request once a route has matched it. */
export interface RoutedRequest {
  readonly baseUrl?: string;
  readonly route?: { readonly path?: unknown };
}

/** The label of a request that matched no route (a 404), so unknown URLs never become labels. */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * The route pattern a request matched, e.g. `/v1/instances/:id/snapshots`, for metric labels
 * and logs: bounded cardinality, no ids.
 */
export function routeLabel(req: RoutedRequest): string {
  const path = req.route?.path;
  if (typeof path !== 'string') return UNMATCHED_ROUTE;
  return `${req.baseUrl ?? ''}${path}` || '/';
}

/** Probe routes, logged at debug so that frequent probes do not flood the log. */
export function isProbePath(path: string): boolean {
  return path === '/healthz' || path === '/readyz' || path === '/metrics';
}
