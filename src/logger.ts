import pino, { type Logger } from 'pino';

export type SnapledgerLogger = Logger;

/** Never logged, should a request or its headers ever be passed to the logger. */
const REDACTED_PATHS = [
  'headers["x-auth-token"]',
  'req.headers["x-auth-token"]',
  'request.headers["x-auth-token"]',
  'token',
];

/** JSON logs on stdout (serve) or stderr (CLI commands, so their stdout stays clean). */
export function createLogger(
  destination: 'stdout' | 'stderr',
  level = process.env.SNAPLEDGER_LOG_LEVEL ?? 'info',
): Logger {
  return pino(
    { name: 'snapledger', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    pino.destination(destination === 'stdout' ? 1 : 2),
  );
}

export const LOGGER = Symbol('Logger');
