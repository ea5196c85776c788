import pino, { type Logger } from 'pino';

export type SnapledgerLogger = Logger;

/** JSON logs on stdout (serve) or stderr (CLI commands, so their stdout stays clean). */
export function createLogger(
  destination: 'stdout' | 'stderr',
  level = process.env.SNAPLEDGER_LOG_LEVEL ?? 'info',
): Logger {
  return pino({ name: 'snapledger', level }, pino.destination(destination === 'stdout' ? 1 : 2));
}

export const LOGGER = Symbol('Logger');
