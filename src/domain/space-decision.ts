const MiB = 1024 * 1024;

/** Always left free after a conversion: filesystem overhead, and the event and view databases. */
export const SPACE_MARGIN_FLOOR = 64 * MiB;

export interface SpaceCheckInput {
  /** `qemu-img measure`'s `required` for the conversion (uncompressed upper bound). */
  readonly required: number;
  /** Bytes the store's filesystem gives unprivileged writers (statfs bavail × bsize). */
  readonly available: number;
  /** Bytes that conversions already running into the same store have yet to write. */
  readonly promisedElsewhere: number;
  /** The store's directory, for the message. */
  readonly store: string;
}

export type SpaceCheckDecision =
  { readonly ok: true; readonly need: number } | { readonly ok: false; readonly reason: string };

/** The margin kept on top of what qemu-img measured: 64 MiB plus 1 %. */
export function spaceMargin(required: number): number {
  return SPACE_MARGIN_FLOOR + Math.ceil(required / 100);
}

/**
 * Whether a conversion fits in the image store, leaving the margin free. Space that running
 * conversions will still write is not counted as available, so concurrent snapshots cannot
 * each take the same free space.
 */
export function decideSpace(input: SpaceCheckInput): SpaceCheckDecision {
  const need = input.required + spaceMargin(input.required);
  const available = Math.max(0, input.available - Math.max(0, input.promisedElsewhere));
  if (need <= available) return { ok: true, need };
  const promised =
    input.promisedElsewhere > 0
      ? ` (${input.available} free, of which ${input.promisedElsewhere} are promised to snapshots in progress)`
      : '';
  return {
    ok: false,
    reason:
      `not enough space in the image store ${input.store}: need ${need} bytes ` +
      `(${input.required} measured by qemu-img + ${need - input.required} margin), ` +
      `${available} available${promised}`,
  };
}
