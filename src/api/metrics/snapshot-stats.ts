import type { DataSource } from 'typeorm';
import { engineOf } from '../../database/database-target';

/** Snapshots counted by how they ended (or `running`) and how they were taken. */
export interface SnapshotCount {
  readonly result: string;
  /** cold or offline; `unplanned` for a snapshot that failed or runs before SnapshotPlanned. */
  readonly mode: string;
  readonly count: number;
}

/** One recorded step of one snapshot, with its duration. */
export interface StepDuration {
  readonly step: string;
  readonly seconds: number;
}

export interface SnapshotStats {
  readonly counts: readonly SnapshotCount[];
  readonly steps: readonly StepDuration[];
}

/** What the stats are cached against: the views change only when the projections move. */
export interface ViewsPosition {
  readonly position: number;
}

/** Each recorded step's name and duration, from the JSON array in snapshot_history.steps. */
const STEP_DURATIONS_SQLITE = `SELECT json_extract(s.value, '$.step') AS step,
              json_extract(s.value, '$.durationMs') AS durationMs
         FROM "snapshot_history" AS h, json_each(h."steps") AS s`;

/**
 * The same on PostgreSQL, where steps is text to cast and ->> yields text for any JSON type:
 * the CASEs keep json_extract's typing, so a step whose name is not a string or whose
 * duration is not a number is dropped below as it is on SQLite. The alias is quoted, as
 * PostgreSQL folds unquoted names to lower case.
 */
const STEP_DURATIONS_POSTGRES = `SELECT
    CASE WHEN json_typeof(s.value -> 'step') = 'string' THEN s.value ->> 'step' END AS step,
    CASE WHEN json_typeof(s.value -> 'durationMs') = 'number'
      THEN CAST(s.value ->> 'durationMs' AS double precision) END AS "durationMs"
  FROM "snapshot_history" AS h, json_array_elements(CAST(h."steps" AS json)) AS s(value)`;

/**
 * Reads the snapshot numbers for /metrics from the snapshot_history view, so they survive
 * restarts and agree with the history the API shows. Two SQL statements: a GROUP BY for the
 * counts and the elements of the steps column's JSON array for the step durations (thousands of rows cost a
 * few milliseconds). The result is cached until the projections' position moves, so scrapes of
 * an idle service do not touch the database.
 */
export class SnapshotStatsReader {
  private cached: { position: number; stats: Promise<SnapshotStats> } | null = null;

  constructor(
    private readonly views: DataSource,
    private readonly projections: ViewsPosition,
  ) {}

  read(): Promise<SnapshotStats> {
    const position = this.projections.position;
    if (this.cached?.position !== position) {
      const stats = this.query();
      this.cached = { position, stats };
      // A failed read is not cached: the next scrape tries again.
      stats.catch(() => {
        if (this.cached?.stats === stats) this.cached = null;
      });
    }
    return this.cached.stats;
  }

  private async query(): Promise<SnapshotStats> {
    const counts = (await this.views.query(
      `SELECT "result" AS result, COALESCE("mode", 'unplanned') AS mode, COUNT(*) AS count
         FROM "snapshot_history" GROUP BY 1, 2 ORDER BY 1, 2`,
    )) as { result: string; mode: string; count: number }[];
    const steps = (await this.views.query(
      engineOf(this.views) === 'postgres' ? STEP_DURATIONS_POSTGRES : STEP_DURATIONS_SQLITE,
    )) as { step: string | null; durationMs: number | null }[];
    return {
      counts: counts.map((c) => ({ result: c.result, mode: c.mode, count: Number(c.count) })),
      steps: steps
        .filter((s) => typeof s.step === 'string' && typeof s.durationMs === 'number')
        .map((s) => ({ step: s.step as string, seconds: (s.durationMs as number) / 1000 })),
    };
  }
}
