import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { SnapledgerConfig } from './config/snapledger.config';
import type { SnapledgerLogger } from './logger';
import { ApiErrorFilter } from './api/api-error.filter';
import { contentTypeMiddleware } from './api/content-type.middleware';
import { imagePrefixMiddleware } from './api/image-prefix.middleware';
import { ServiceLock } from './service-lock';
import { requestIdMiddleware } from './api/request-context.middleware';
import { httpLoggerMiddleware } from './api/logging/http-logger.middleware';
import { AppMetrics } from './api/metrics/app-metrics';
import { httpMetricsMiddleware } from './api/metrics/http-metrics.middleware';
import { buildOpenApiDocument, OpenApiDocumentHolder } from './api/openapi/openapi-document';
import { mountReviewPage } from './review-page';

/**
 * Builds the root module the HTTP service runs. The composition root (AppModule.forRoot, with
 * HTTP and background work) is passed in by the caller, the CLI's serve command: this layer
 * does not import it. Called only once the data directory's lock is held.
 */
export type HttpRootModule = () => DynamicModule;

/** Builds the HTTP service: auth on every route, request ids, family-shaped errors. */
export async function createHttpApp(
  rootModule: HttpRootModule,
  logger: SnapledgerLogger,
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(rootModule(), {
    logger: ['error', 'warn'],
    bodyParser: false,
  });
  app.disable('x-powered-by');
  // /image/v2/... reaches the same Glance routes as /v2/... (devstack's image endpoint).
  app.use(imagePrefixMiddleware);
  app.use(requestIdMiddleware);
  app.use(httpLoggerMiddleware(logger));
  app.use(httpMetricsMiddleware(app.get(AppMetrics)));
  // A body of a non-JSON media type is 415, as in Nova; Nova reads text/plain as JSON.
  app.use(contentTypeMiddleware);
  // Nova and Glance take JSON; 1 MiB is far above any valid body.
  app.useBodyParser('json', { limit: '1mb', type: ['application/json', 'application/*+json'] });
  // The review page's static files at /ui/ (its data comes from the authenticated API).
  mountReviewPage(app);
  app.useGlobalFilters(new ApiErrorFilter(logger));
  app.enableShutdownHooks();
  app.get(OpenApiDocumentHolder).document = buildOpenApiDocument(app);
  return app;
}

export async function serve(
  config: SnapledgerConfig,
  logger: SnapledgerLogger,
  rootModule: HttpRootModule,
): Promise<INestApplication> {
  const lock = new ServiceLock(config.dataDir);
  lock.acquire();
  process.once('exit', () => lock.release());
  const app = await createHttpApp(rootModule, logger);
  await app.listen(config.port, config.host);
  logger.info(
    { url: `http://${config.host}:${config.port}`, dataDir: config.dataDir },
    'snapledger is listening',
  );
  return app;
}
