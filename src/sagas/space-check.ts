import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DiskImageTool, MeasureOptions } from '../drivers/disk-image.port';
import { decideSpace } from '../domain/space-decision';

export interface SpaceRequest extends Omit<MeasureOptions, 'shared'> {
  readonly imageId: string;
  /** The conversion's output path, in the store's staging directory. */
  readonly target: string;
  /**
   * How many files of the measured size the work writes there at once (default 1): a backup
   * in a chain also makes its image whole in a scratch file to hash it.
   */
  readonly copies?: number;
}

export type SpaceClaim =
  | { readonly ok: true; readonly need: number; release(): void }
  | { readonly ok: false; readonly reason: string };

interface Claim {
  readonly target: string;
  readonly required: number;
}

/**
 * Space claims of the conversions running in this process, per DiskImageTool (one per
 * service). A claim is taken after measuring, before converting, and released when the
 * conversion ends; until then, what it has not yet written is kept out of everyone else's
 * free space.
 */
export class StagingSpace {
  private static readonly byTool = new WeakMap<object, StagingSpace>();

  /** The shared claims of a tool's conversions. */
  static of(disks: Pick<DiskImageTool, 'measure'>): StagingSpace {
    let space = StagingSpace.byTool.get(disks);
    if (!space) {
      space = new StagingSpace(disks);
      StagingSpace.byTool.set(disks, space);
    }
    return space;
  }

  private readonly claims = new Map<string, Claim>();
  /** Deciding and recording a claim is done one at a time. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly disks: Pick<DiskImageTool, 'measure'>,
    private readonly freeBytes: (dir: string) => Promise<number> = freeBytesAt,
  ) {}

  /**
   * Measures the conversion (with -U: the source may be held by a running domain) and claims
   * its space, or says why it does not fit.
   */
  async claim(request: SpaceRequest): Promise<SpaceClaim> {
    const measured = await this.disks.measure({
      source: request.source,
      sourceFormat: request.sourceFormat,
      targetFormat: request.targetFormat,
      compression: request.compression,
      shared: true,
    });
    const required = measured.required * (request.copies ?? 1);
    const store = dirname(request.target);
    const decide = async (): Promise<SpaceClaim> => {
      const decision = decideSpace({
        required,
        available: await this.freeBytes(store),
        promisedElsewhere: await this.promisedExcept(request.imageId),
        store,
      });
      if (!decision.ok) return decision;
      const claim: Claim = { target: request.target, required };
      this.claims.set(request.imageId, claim);
      return {
        ok: true,
        need: decision.need,
        release: () => {
          if (this.claims.get(request.imageId) === claim) this.claims.delete(request.imageId);
        },
      };
    };
    const result = this.turn.then(decide);
    this.turn = result.catch(() => undefined);
    return result;
  }

  /** What the other claimed conversions have yet to write (required − allocated so far). */
  private async promisedExcept(imageId: string): Promise<number> {
    let total = 0;
    for (const [id, claim] of this.claims) {
      if (id === imageId) continue;
      total += Math.max(0, claim.required - (await allocatedBytes(claim.target)));
    }
    return total;
  }
}

/** Free bytes for unprivileged writers on the filesystem holding `dir` (bavail, not bfree). */
export async function freeBytesAt(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return Number(fs.bavail) * Number(fs.bsize);
}

async function allocatedBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).blocks * 512;
  } catch {
    return 0;
  }
}
