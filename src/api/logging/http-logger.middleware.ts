import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { SnapledgerLogger } from '../../logger';
import { isProbePath, routeLabel, type RoutedRequest } from '../metrics/route-label';
import type { SnapledgerRequest } from '../request-context.middleware';

type LoggedRequest = IncomingMessage & SnapledgerRequest & RoutedRequest;

/** The path without its query string (queries hold filters and markers, never needed here). */
const pathOf = (req: LoggedRequest) => (req.originalUrl ?? req.url ?? '').split('?')[0] ?? '';

/**
 * One log line per HTTP request when it ends: method, route pattern, path, status, duration,
 * `requestId`, and `correlationId` — for an API request the correlation id of every event it
 * appends is its request id (causationFromRequest). No headers are logged, so no token is.
 * Probes (/healthz, /readyz, /metrics) log at debug, server errors at error, the rest at info.
 * Must run after requestIdMiddleware.
 */
export function httpLoggerMiddleware(logger: SnapledgerLogger) {
  return pinoHttp<LoggedRequest, ServerResponse>({
    logger: logger.child({ component: 'http' }),
    genReqId: (req) => req.requestId ?? 'req-unknown',
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    customProps: (req) => ({ correlationId: req.requestId }),
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      return isProbePath(pathOf(req)) ? 'debug' : 'info';
    },
    customSuccessObject: (req, res, val: { durationMs: number }) => ({
      method: req.method,
      route: routeLabel(req),
      path: pathOf(req),
      status: res.statusCode,
      durationMs: val.durationMs,
    }),
    customErrorObject: (req, res, err, val: { durationMs: number }) => ({
      method: req.method,
      route: routeLabel(req),
      path: pathOf(req),
      status: res.statusCode,
      durationMs: val.durationMs,
      err,
    }),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
  });
}
