import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { SnapledgerConfig } from './config/snapledger.config';
import type { SnapledgerLogger } from './logger';
import { ServiceLock } from './service-lock';

/**
 * Runs `snapledger agent`: the application context with the agent role and no HTTP, until
 * SIGTERM or SIGINT. Its data directory (staging, deltas' bookkeeping, its pid file) is its
 * own; the log, the views and the image directory are shared with the API.
 */
export async function runAgent(
  config: SnapledgerConfig,
  logger: SnapledgerLogger,
  rootModule: () => DynamicModule,
): Promise<void> {
  const lock = new ServiceLock(config.dataDir);
  lock.acquire();
  process.once('exit', () => lock.release());
  const app = await NestFactory.createApplicationContext(rootModule(), {
    logger: ['error', 'warn'],
    // A refused lease or an unreachable libvirt ends the command with its message, exit 1.
    abortOnError: false,
  });
  app.enableShutdownHooks();
  logger.info(
    { host: config.hostName, libvirtUri: config.libvirtUri, dataDir: config.dataDir },
    'snapledger agent is running',
  );
}
