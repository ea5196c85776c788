import { type Command, Option } from 'commander';
import { newUserProblem, UserExistsError, UserService } from '../api/auth/user.service';
import { CliError, ExitCode } from './exit-codes';

/** Runs work with the local application context (no HTTP), as `token create` does. */
export type WithLocalServices = <T>(
  work: (get: <R>(token: unknown) => R) => Promise<T>,
) => Promise<T>;

/** The whole of standard input, without the one line ending a shell pipe adds. */
async function readStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Splits `--role a,b --role c` into role names. */
export const rolesFrom = (values: readonly string[]) =>
  values
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);

/**
 * `snapledger user create`: a user for Keystone password sign-in (/identity/v3), in the
 * Default domain, with roles on one project. The password comes from --password or, to keep
 * it off the command line and out of the shell history, from standard input.
 */
export function registerUserCommand(program: Command, withLocal: WithLocalServices): void {
  const user = program
    .command('user')
    .description('users who sign in with a password (Keystone v3)');
  user
    .command('create')
    .description('create a user with roles on a project; the password is stored as a scrypt hash')
    .requiredOption('--name <name>', 'user name, unique (domain "Default")')
    .option('--password <password>', 'the password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input', false)
    .requiredOption('--project <project>', 'project id (also its name)')
    .addOption(new Option('--role <role...>', 'roles (reader, member, admin)').default(['member']))
    .action(
      async (opts: {
        name: string;
        password?: string;
        passwordStdin: boolean;
        project: string;
        role: string[];
      }) => {
        if ((opts.password === undefined) === !opts.passwordStdin)
          throw new CliError('give exactly one of --password and --password-stdin', ExitCode.usage);
        const password = opts.passwordStdin ? await readStdin() : (opts.password ?? '');
        const input = {
          name: opts.name,
          password,
          projectId: opts.project,
          roles: rolesFrom(opts.role),
        };
        const problem = newUserProblem(input);
        if (problem) throw new CliError(problem, ExitCode.usage);
        try {
          const created = await withLocal((get) => get<UserService>(UserService).create(input));
          process.stdout.write(
            `${JSON.stringify(
              {
                id: created.id,
                name: created.name,
                domain_id: 'default',
                project: created.projectId,
                roles: created.roles,
              },
              null,
              2,
            )}\n`,
          );
        } catch (error) {
          if (error instanceof UserExistsError)
            throw new CliError(error.message, ExitCode.conflict);
          throw error;
        }
      },
    );
}
