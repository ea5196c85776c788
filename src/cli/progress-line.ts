/** How often a long command prints its progress to stderr. */
const PROGRESS_EVERY_MS = 1000;

/** A whole number with thousands separators, as the CLI prints counts. */
export const count = (n: number): string => n.toLocaleString('en-US');

/**
 * A progress callback for a walk of the log: at most once a second it prints
 * `<label>: <done> of <last> events (<share>%)` to stderr.
 */
export function progressLine(label: string): (done: number, last: number) => void {
  let lastLine = Date.now();
  return (done, last) => {
    if (Date.now() - lastLine < PROGRESS_EVERY_MS) return;
    lastLine = Date.now();
    const share = last === 0 ? 100 : Math.min(100, Math.floor((done * 100) / last));
    process.stderr.write(`${label}: ${count(done)} of ${count(last)} events (${share}%)\n`);
  };
}
