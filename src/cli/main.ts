import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { storageLocations } from '../database/storage-locations';
import type { SyncInstancesResult } from '../commands/sync-instances.command';
import { hostNameFrom, loadConfig, type SnapledgerConfig } from '../config/snapledger.config';
import { SYSTEM_ACTOR } from '../events';
import { createLogger } from '../logger';
import { ApiClient, ApiError, resolveToken } from './api-client';
import { wholeNumberOption } from './connection-options';
import { CliError, ExitCode, exitCodeOf } from './exit-codes';
import { actionsCommand } from './actions.command';
import { instancesListCommand, instancesPolicyCommand } from './instances.command';
import { snapshotCommand } from './snapshot.command';
import { registerAuditCommand } from './audit.command';
import { registerEventsCommand } from './events.command';
import { registerHistoryCommand } from './history.command';
import { registerImagesCommand } from './images.command';
import { registerUserCommand } from './user.command';
import { registerVerifyCommand } from './verify.command';
import { registerProjectionsCommand } from './rebuild.command';

/**
 * Opens and closes the event store once before the application is built when it is on a
 * server (PostgreSQL or EventStoreDB), so that an unreachable server, a missing database or
 * another release's schema ends the command with one clear line (and exit 1) before anything
 * is written.
 */
async function checkSharedStore(config: SnapledgerConfig): Promise<void> {
  if (!config.databaseUrl && !config.eventStoreUrl) return;
  const store = await storageLocations(config).openEventStore();
  await store.close();
}

/** API-only and agent processes share one PostgreSQL database; SQLite files cannot be shared. */
function requireSharedDatabase(config: SnapledgerConfig, command: string): void {
  if (!config.databaseUrl)
    throw new CliError(
      `${command} needs SNAPLEDGER_DATABASE_URL=postgres://…: the API and the agents share one PostgreSQL database (the SQLite default is for one all-in-one \`snapledger serve\`)`,
      ExitCode.usage,
    );
}

/** Runs `work` inside the application context without HTTP or background work. */
async function withLocalContext<T>(
  config: SnapledgerConfig,
  work: (get: <R>(token: unknown) => R) => Promise<T>,
): Promise<T> {
  await checkSharedStore(config);
  const logger = createLogger('stderr', process.env.SNAPLEDGER_LOG_LEVEL ?? 'warn');
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('../app.module.js');
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot(config, logger, { http: false, role: null }),
    {
      logger: ['error', 'warn'],
    },
  );
  try {
    return await work(<R>(token: unknown) => app.get(token as never) as R);
  } finally {
    await app.close();
  }
}

function apiFor(config: SnapledgerConfig, opts: { url?: string; token?: string }): ApiClient {
  const url = opts.url ?? process.env.SNAPLEDGER_URL ?? `http://127.0.0.1:${config.port}`;
  return new ApiClient(url, resolveToken(config, opts.token));
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

export function buildCli(): Command {
  const program = new Command('snapledger')
    .description('Event-sourced, Nova-compatible snapshots of libvirt/QEMU virtual machines')
    // One line for a usage error, and where the usage is: not the whole help text.
    .showHelpAfterError('(add --help for usage)')
    // Usage errors exit 2, like most Unix tools; --help and --version still exit 0.
    // Set before any subcommand is added, so that every subcommand inherits it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? ExitCode.ok : ExitCode.usage));

  program
    .command('serve')
    .description(
      'start the API; with the default role (all-in-one) also the projections, the snapshot saga and the libvirt follower',
    )
    .addOption(
      new Option('--role <role>', 'all-in-one, or api: the API and the views, no libvirt')
        .choices(['all-in-one', 'api'])
        .default('all-in-one'),
    )
    .action(async (opts: { role: 'all-in-one' | 'api' }) => {
      const config = loadConfig();
      if (opts.role === 'api') requireSharedDatabase(config, 'serve --role api');
      await checkSharedStore(config);
      const logger = createLogger('stdout');
      const [{ serve }, { AppModule }] = await Promise.all([
        import('../http-server.js'),
        import('../app.module.js'),
      ]);
      await serve(config, logger, () =>
        AppModule.forRoot(config, logger, { http: true, role: opts.role }),
      );
    });

  program
    .command('agent')
    .description(
      "run one hypervisor host's work: discover its domains and carry out its instances' snapshots",
    )
    .requiredOption(
      '--host <name>',
      'the compute host this agent speaks for (one agent per host name)',
    )
    .option(
      '--libvirt-uri <uri>',
      "the host's libvirt connection (default SNAPLEDGER_LIBVIRT_URI or qemu:///system)",
    )
    .action(async (opts: { host: string; libvirtUri?: string }) => {
      const config: SnapledgerConfig = {
        ...loadConfig(),
        hostName: hostNameFrom(opts.host),
        ...(opts.libvirtUri ? { libvirtUri: opts.libvirtUri } : {}),
      };
      requireSharedDatabase(config, 'agent');
      await checkSharedStore(config);
      const [{ runAgent }, { AppModule }] = await Promise.all([
        import('../agent-process.js'),
        import('../app.module.js'),
      ]);
      await runAgent(config, createLogger('stdout'), () =>
        AppModule.forRoot(config, createLogger('stdout'), { http: false, role: 'agent' }),
      );
    });

  program
    .command('snapshot')
    .description('snapshot an instance (uuid or domain name) through the API')
    .argument('<instance>', 'instance uuid or libvirt domain name')
    .requiredOption('--name <name>', 'name of the new image')
    .option('--wait', 'wait for the snapshot to finish, with a progress bar', false)
    .option(
      '--incremental',
      "store only what changed since the instance's newest incremental snapshot",
      false,
    )
    .option(
      '--url <url>',
      'API base URL (default SNAPLEDGER_URL or http://127.0.0.1:$SNAPLEDGER_PORT)',
    )
    .option('--token <token>', 'X-Auth-Token (default SNAPLEDGER_TOKEN or <data dir>/admin-token)')
    .option('--json', 'print the image as JSON when done', false)
    .option(
      '--timeout <seconds>',
      'with --wait: give up waiting after this long',
      wholeNumberOption('--timeout', 1, 31_536_000),
      3600,
    )
    .action(
      async (
        instance: string,
        opts: {
          name: string;
          wait: boolean;
          incremental: boolean;
          url?: string;
          token?: string;
          json: boolean;
          timeout: number;
        },
      ) => {
        const timeoutSeconds = opts.timeout;
        const config = loadConfig();
        const result = await snapshotCommand(apiFor(config, opts), instance, {
          name: opts.name,
          incremental: opts.incremental,
          wait: opts.wait,
          out: process.stderr,
          progress: process.stderr.isTTY === true || process.env.SNAPLEDGER_PROGRESS === '1',
          timeoutSeconds,
        });
        if (result.image !== undefined) print(result.image);
        else if (opts.json) print({ image_id: result.imageId, result: result.result });
        if (result.result === 'killed' || result.result === 'deleted') process.exitCode = 1;
      },
    );

  const connect = (opts: { url?: string; token?: string }) => apiFor(loadConfig(), opts);
  registerHistoryCommand(program, connect);
  registerAuditCommand(program, connect);
  registerEventsCommand(program, connect);
  registerImagesCommand(program, connect);
  registerUserCommand(program, (work) => withLocalContext(loadConfig(), work));

  const instances = program.command('instances').description('instances known from libvirt');
  instances
    .command('list', { isDefault: true })
    .description('list the instances the token may see (the default)')
    .option(
      '--url <url>',
      'API base URL (default SNAPLEDGER_URL or http://127.0.0.1:$SNAPLEDGER_PORT)',
    )
    .option('--token <token>', 'X-Auth-Token (default SNAPLEDGER_TOKEN or <data dir>/admin-token)')
    .option('--json', 'print the API answer as JSON', false)
    .action(async (opts: { url?: string; token?: string; json: boolean }) => {
      await instancesListCommand(apiFor(loadConfig(), opts), opts);
    });

  program
    .command('actions')
    .description("an instance's Nova instance actions (e.g. createImage), each with its events")
    .argument('<instance>', 'instance uuid or libvirt domain name')
    .option(
      '--url <url>',
      'API base URL (default SNAPLEDGER_URL or http://127.0.0.1:$SNAPLEDGER_PORT)',
    )
    .option('--token <token>', 'X-Auth-Token (default SNAPLEDGER_TOKEN or <data dir>/admin-token)')
    .option('--json', 'print the actions and their events as JSON', false)
    .action(async (instance: string, opts: { url?: string; token?: string; json: boolean }) => {
      await actionsCommand(apiFor(loadConfig(), opts), instance, opts);
    });

  instances
    .command('policy')
    .description(
      "set the instance's backup policy: --incremental makes every createBackup of it incremental",
    )
    .argument('<instance>', 'instance uuid or libvirt domain name')
    .addOption(new Option('--incremental', 'incremental backups (layers over the previous one)'))
    .addOption(new Option('--full', 'whole backups, as Nova makes').conflicts('incremental'))
    .option(
      '--url <url>',
      'API base URL (default SNAPLEDGER_URL or http://127.0.0.1:$SNAPLEDGER_PORT)',
    )
    .option('--token <token>', 'X-Auth-Token (default SNAPLEDGER_TOKEN or <data dir>/admin-token)')
    .action(
      async (
        instance: string,
        opts: { incremental?: boolean; full?: boolean; url?: string; token?: string },
      ) => {
        if (opts.incremental === undefined && opts.full === undefined) {
          throw new CliError('say --incremental or --full', ExitCode.usage);
        }
        await instancesPolicyCommand(
          apiFor(loadConfig(), opts),
          instance,
          opts.incremental === true,
        );
      },
    );

  instances
    .command('sync')
    .description('list the domains on the libvirt connection now and record what changed')
    .action(async () => {
      const config = loadConfig();
      const [{ CommandBus }, { SyncInstancesCommand }] = await Promise.all([
        import('@nestjs/cqrs'),
        import('../commands/sync-instances.command.js'),
      ]);
      const result = await withLocalContext(config, (get) =>
        get<InstanceType<typeof CommandBus>>(CommandBus).execute<
          InstanceType<typeof SyncInstancesCommand>,
          SyncInstancesResult
        >(
          new SyncInstancesCommand({
            actor: SYSTEM_ACTOR,
            requestId: `req-${randomUUID()}`,
          }),
        ),
      );
      print(result);
    });

  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('create an X-Auth-Token for a user in a project')
    .requiredOption('--project <project>', 'project id')
    .requiredOption('--user <user>', 'user id')
    .addOption(new Option('--role <role...>', 'roles (reader, member, admin)').default(['member']))
    .option(
      '--ttl <seconds>',
      'expire the token after this many seconds',
      wholeNumberOption('--ttl', 1, 315_360_000),
    )
    .action(async (opts: { project: string; user: string; role: string[]; ttl?: number }) => {
      const config = loadConfig();
      const ttl = opts.ttl;
      const roles = opts.role
        .flatMap((r) => r.split(','))
        .map((r) => r.trim())
        .filter(Boolean);
      const { TokenService, KNOWN_ROLES } = await import('../api/auth/token.service.js');
      const unknown = roles.filter((r) => !(KNOWN_ROLES as readonly string[]).includes(r));
      if (roles.length === 0 || unknown.length > 0)
        throw new CliError(
          `--role: ${unknown.length > 0 ? `unknown role "${unknown[0]}"` : 'no role given'} (known: ${KNOWN_ROLES.join(', ')})`,
          ExitCode.usage,
        );
      for (const [flag, value] of [
        ['--project', opts.project],
        ['--user', opts.user],
      ] as const) {
        if (value.trim() === '') throw new CliError(`${flag} must not be empty`, ExitCode.usage);
      }
      const issued = await withLocalContext(config, (get) =>
        get<InstanceType<typeof TokenService>>(TokenService).issue({
          userId: opts.user,
          projectId: opts.project,
          roles,
          ttlSeconds: ttl,
        }),
      );
      print({
        token: issued.token,
        user: issued.actor.userId,
        project: issued.actor.projectId,
        roles: issued.actor.roles,
        expires_at: issued.expiresAt,
      });
    });
  token
    .command('revoke')
    .description('revoke an X-Auth-Token: it is refused (401) from the next request on')
    .argument('<token>', 'the token to revoke')
    .action(async (value: string) => {
      const config = loadConfig();
      const { TokenService } = await import('../api/auth/token.service.js');
      const revoked = await withLocalContext(config, (get) =>
        get<InstanceType<typeof TokenService>>(TokenService).revoke(value),
      );
      if (!revoked) throw new CliError('no such token', ExitCode.notFound);
      print({ revoked: true });
    });

  registerVerifyCommand(program, loadConfig);

  registerProjectionsCommand(program, loadConfig);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    const message =
      error instanceof ApiError
        ? error.message
        : error instanceof Error
          ? error.message
          : String(error);
    process.stderr.write(`snapledger: ${message}\n`);
    process.exitCode = exitCodeOf(error);
  }
}

if (require.main === module) void main(process.argv);
