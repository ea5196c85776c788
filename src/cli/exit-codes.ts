import { ApiError, BadServiceUrlError, ServiceUnreachableError } from './api-client';

/**
 * The CLI's exit codes, so scripts can tell failure kinds apart. Documented in the README.
 */
export const ExitCode = {
  ok: 0,
  /** Anything not listed below, and a snapshot that ended `killed`. */
  failure: 1,
  /** Bad command-line usage (unknown option, missing argument, bad value). */
  usage: 2,
  /** The service rejected the request as invalid (HTTP 400, 413, 415). */
  badRequest: 3,
  /** Not authenticated or not allowed (HTTP 401, 403). */
  denied: 4,
  /** The instance, image or other resource does not exist or is not visible (HTTP 404). */
  notFound: 5,
  /** Conflict with the resource's state, e.g. a snapshot already running (HTTP 409). */
  conflict: 6,
  /** The service could not be reached, or answered 5xx. */
  unavailable: 7,
  /** --wait gave up before the work finished. */
  timeout: 8,
  /** verify found the event log's hash chain broken (or not holding the head kept). */
  logBroken: 9,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that already knows which exit code it means. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeOf(error: unknown): ExitCodeValue {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof BadServiceUrlError) return ExitCode.usage;
  if (error instanceof ServiceUnreachableError) return ExitCode.unavailable;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return ExitCode.denied;
    if (error.status === 404) return ExitCode.notFound;
    if (error.status === 409) return ExitCode.conflict;
    if (error.status >= 500) return ExitCode.unavailable;
    if (error.status >= 400) return ExitCode.badRequest;
  }
  return ExitCode.failure;
}
