import { spawn } from 'node:child_process';

/**
 * The JavaScript heap ceiling, in MiB, of the commands that walk the whole log (`projections
 * rebuild`, `verify`). What they keep alive stays near 55 MiB however long the log is (V8's
 * own trace: 53 MiB after each full collection, from the first thousand events to the last),
 * but without a ceiling V8 lets the heap grow far beyond that on a host with memory to spare:
 * a rebuild of a million events peaked at 369 MiB resident. With the ceiling the collector
 * runs sooner instead (docs/benchmarks.md, "Replay at scale").
 */
export const LOG_WALK_HEAP_MIB = 256;

const CEILING_FLAG = '--max-old-space-size';

/** `verify` and `projections rebuild`, found among the words of a command line. */
export function walksTheLog(args: readonly string[]): boolean {
  const words = args.filter((arg) => !arg.startsWith('-'));
  return words[0] === 'verify' || (words[0] === 'projections' && words[1] === 'rebuild');
}

/** Whether this process already has a heap ceiling, set by its caller or by a rerun. */
function hasHeapCeiling(): boolean {
  return (
    process.execArgv.some((arg) => arg.startsWith(CEILING_FLAG)) ||
    (process.env.NODE_OPTIONS ?? '').includes(CEILING_FLAG)
  );
}

/**
 * For a command that walks the log, in a process without a heap ceiling: runs the same
 * command line in a child Node with the ceiling (streams shared, SIGINT and SIGTERM passed
 * on, its exit code passed back) and returns true. Otherwise returns false, and the caller
 * runs the command itself. Called by bin/snapledger before anything else is loaded, so the
 * waiting parent holds only a bare Node.
 */
export function rerunWithHeapCeiling(argv: readonly string[]): boolean {
  if (!walksTheLog(argv.slice(2)) || hasHeapCeiling()) return false;
  const child = spawn(
    process.execPath,
    [...process.execArgv, `${CEILING_FLAG}=${LOG_WALK_HEAP_MIB}`, ...argv.slice(1)],
    { stdio: 'inherit' },
  );
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  child.once('error', (error) => {
    process.stderr.write(`snapledger: could not start ${process.execPath}: ${error.message}\n`);
    process.exitCode = 1;
  });
  child.once('exit', (code, signal) => {
    const numbers: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
    process.exitCode = code ?? 128 + (signal ? (numbers[signal] ?? 1) : 1);
  });
  return true;
}
