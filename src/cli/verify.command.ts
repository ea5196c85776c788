import type { Command } from 'commander';
import type { SnapledgerConfig } from '../config/snapledger.config';
import { storageLocations, type StorageLocations } from '../database/storage-locations';
import { preparePrivateDataFiles } from '../config/private-data-files';
import { recordVerification } from '../api/log-integrity/log-verification.records';
import { createServiceStateDataSource } from '../service-state.data-source';
import { isHashedLog } from '../event-store/hashed-log.port';
import { formatHead, parseHead, type LogHead } from '../event-store/log-hash';
import { verifyLog, type LogVerification } from '../event-store/log-verification';
import { CliError, ExitCode } from './exit-codes';
import { count, progressLine } from './progress-line';

interface VerifyOptions {
  json: boolean;
  exportHead: boolean;
  expectHead?: string;
}

/** How often, at most, a line of progress goes to stderr on a long log. */
function describe(result: LogVerification): string {
  if (result.ok) {
    const head = result.head === null ? 'the log is empty' : `head ${formatHead(result.head)}`;
    return `log verified: ${count(result.verified)} events, the hash chain is whole; ${head}`;
  }
  const broken = result.break;
  return [
    `log BROKEN at position ${broken?.position} (${broken?.kind}): ${broken?.detail}`,
    `${count(result.verified)} events before it verified${result.head ? `, up to ${formatHead(result.head)}` : ''}`,
  ].join('\n');
}

/**
 * `snapledger verify`: reads the log straight from its store (the service may be running)
 * and recomputes the hash chain (src/event-store/log-verification.ts). Exit 0 when whole,
 * 9 at the first break.
 */
/**
 * Keeps the finished walk in the service state, where the running service (GET
 * /v1/log/verification, the review page) reports it as the last one. A failure to keep it is
 * reported and changes nothing else: the walk's own answer stands.
 */
async function keep(
  locations: StorageLocations,
  startedAt: Date,
  result: LogVerification,
): Promise<void> {
  try {
    preparePrivateDataFiles(locations.privateFiles);
    const state = createServiceStateDataSource(locations.state);
    await state.initialize();
    try {
      const finishedAt = new Date();
      await recordVerification(state, {
        source: 'cli',
        requestedBy: null,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        result,
      });
    } finally {
      await state.destroy();
    }
  } catch (error) {
    process.stderr.write(
      `verify: the result could not be kept in the service state: ${(error as Error).message}\n`,
    );
  }
}

export function registerVerifyCommand(program: Command, loadConfig: () => SnapledgerConfig): void {
  program
    .command('verify')
    .description(
      'recompute the hash chain of the whole event log; exit 9 and name the first broken position',
    )
    .option('--json', 'print the result as JSON', false)
    .option(
      '--export-head',
      'print only the verified head, <position>:<hash>, to keep elsewhere',
      false,
    )
    .option('--expect-head <head>', 'also check the log still holds a head kept earlier')
    .action(async (opts: VerifyOptions) => {
      let expectHead: LogHead | undefined;
      try {
        expectHead = opts.expectHead === undefined ? undefined : parseHead(opts.expectHead);
      } catch (error) {
        throw new CliError(`--expect-head: ${(error as Error).message}`, ExitCode.usage);
      }
      const locations = storageLocations(loadConfig());
      const store = await locations.openEventStore();
      try {
        if (!isHashedLog(store)) {
          throw new CliError(
            `the ${locations.logEngine} log keeps no hash chain: verify works on the SQLite and PostgreSQL logs`,
            ExitCode.failure,
          );
        }
        const startedAt = new Date();
        const result = await verifyLog(store, {
          expectHead,
          batchSize: 10_000,
          onProgress: progressLine('verify'),
        });
        await keep(locations, startedAt, result);
        if (opts.exportHead && result.ok && result.head === null) {
          throw new CliError('the log is empty: there is no head to keep yet', ExitCode.failure);
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else if (opts.exportHead && result.ok && result.head) {
          process.stdout.write(`${formatHead(result.head)}\n`);
        } else process.stdout.write(`${describe(result)}\n`);
        if (!result.ok) process.exitCode = ExitCode.logBroken;
      } finally {
        await store.close();
      }
    });
}
