import type { Command } from 'commander';
import type { SnapledgerConfig } from '../config/snapledger.config';
import { preparePrivateDataFiles } from '../config/private-data-files';
import { AdvisoryLease, LeaseHeldError, VIEWS_LEASE } from '../database/advisory-lease';
import { storageLocations } from '../database/storage-locations';
import { createLogger } from '../logger';
import { createViewProjections, ProjectionRunner } from '../projections/projection-runner';
import { createViewsDataSource } from '../projections/views.data-source';
import { ServiceLock } from '../service-lock';
import { CliError, ExitCode } from './exit-codes';
import { progressLine } from './progress-line';

/**
 * The views lease, on a shared PostgreSQL database: while the rebuild holds it, no API
 * process projects into the views it is emptying and refilling. Null on SQLite, where the
 * service lock of the data directory already keeps `serve` out.
 */
async function takeViewsLease(config: SnapledgerConfig): Promise<AdvisoryLease | null> {
  if (!config.databaseUrl) return null;
  try {
    return await AdvisoryLease.acquire(config.databaseUrl, VIEWS_LEASE);
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error;
    throw new CliError(
      `projections rebuild: an API process keeps the views (${error.message}); stop every \`snapledger serve\` on this database first`,
      ExitCode.failure,
    );
  }
}

/**
 * `snapledger projections rebuild`: empties every view and replays the whole log into it.
 * It opens only the log and the views (no application context, no HTTP, no libvirt), so the
 * process that replays a long log holds little besides the replay itself.
 */
export function registerProjectionsCommand(
  program: Command,
  loadConfig: () => SnapledgerConfig,
): void {
  const projections = program.command('projections').description('read models');
  projections
    .command('rebuild')
    .description('drop every view and replay the whole event log into it (stop the service first)')
    .action(async () => {
      const config = loadConfig();
      new ServiceLock(config.dataDir).assertFree('projections rebuild');
      const lease = await takeViewsLease(config);
      try {
        const locations = storageLocations(config);
        preparePrivateDataFiles(locations.privateFiles);
        const store = await locations.openEventStore();
        try {
          const views = createViewsDataSource(locations.views);
          await views.initialize();
          try {
            const logger = createLogger('stderr', process.env.SNAPLEDGER_LOG_LEVEL ?? 'warn');
            const runner = new ProjectionRunner(
              store,
              views,
              createViewProjections(),
              logger.child({ component: 'projections' }),
            );
            const result = await runner.rebuild(progressLine('rebuild'));
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          } finally {
            await views.destroy();
          }
        } finally {
          await store.close();
        }
      } finally {
        await lease?.release();
      }
    });
}
