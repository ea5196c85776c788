import { type Command, InvalidArgumentError } from 'commander';
import type { ApiClient } from './api-client';

/** --url and --token, which every command that talks to the service accepts. */
export interface ConnectionOptions {
  readonly url?: string;
  readonly token?: string;
}

/** Makes an API client from --url/--token (falling back to the environment and config). */
export type ConnectApi = (options: ConnectionOptions) => ApiClient;

export function addConnectionOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      'API base URL (default SNAPLEDGER_URL or http://127.0.0.1:$SNAPLEDGER_PORT)',
    )
    .option('--token <token>', 'X-Auth-Token (default SNAPLEDGER_TOKEN or <data dir>/admin-token)');
}

/** Parses a whole-number option in [min, max]; a bad value is a usage error (exit 2). */
export function wholeNumberOption(name: string, min: number, max: number) {
  return (text: string): number => {
    const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
}
