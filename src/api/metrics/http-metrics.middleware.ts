import type { NextFunction, Request, Response } from 'express';
import type { AppMetrics } from './app-metrics';
import { routeLabel } from './route-label';

/** Observes every request's latency by method, route pattern and status, when it ends. */
export function httpMetricsMiddleware(metrics: AppMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () =>
      end({ method: req.method, route: routeLabel(req), status: String(res.statusCode) }),
    );
    next();
  };
}
