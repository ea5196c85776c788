import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NewEvent } from '../../src/events/recorded-event';

interface LogLine extends NewEvent {
  readonly streamName: string;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The recorded log of test/fixtures/replay, one event a line. */
export function recordedLogLines(): string[] {
  return readFileSync(join(__dirname, '..', 'fixtures', 'replay', 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/**
 * A copy of the recorded log about other instances and images at the same times: every uuid
 * (ids, streams, requests, events) gets its last group rotated by `variant` (1..11) hex
 * digits, so each variant makes other ids, and names are renamed by
 * `renames` (a name's prefix → another). The copy's rows tie with the original's on every
 * time, so only the ids order them, and its names differ in case and punctuation, which
 * collations order differently.
 */
export function copiedLog(
  lines: readonly string[],
  variant: number,
  renames: Record<string, string>,
): string[] {
  return lines.map((line) => {
    let copy = line.replace(
      UUID,
      (uuid) => `${uuid.slice(0, 24)}${uuid.slice(24 + variant)}${uuid.slice(24, 24 + variant)}`,
    );
    for (const [from, to] of Object.entries(renames)) copy = copy.replaceAll(`"${from}`, `"${to}`);
    return copy;
  });
}

export function parseLogLine(line: string): LogLine {
  return JSON.parse(line) as LogLine;
}
