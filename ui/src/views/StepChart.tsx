import type { SnapshotStep } from '../api';
import { duration } from '../format';

/**
 * One snapshot's steps as horizontal bars on a shared time axis: each bar starts where the
 * step started after the first step and is as long as the step took.
 */
export function StepChart({ steps }: { steps: SnapshotStep[] }) {
  if (steps.length === 0) return <p class="muted">No steps recorded.</p>;
  const start = Math.min(...steps.map((s) => Date.parse(s.startedAt)));
  const end = Math.max(...steps.map((s) => Date.parse(s.finishedAt)));
  const span = Math.max(1, end - start);
  return (
    <figure class="step-chart" aria-label="Step timings">
      {steps.map((s, index) => {
        const left = ((Date.parse(s.startedAt) - start) / span) * 100;
        const width = Math.max(0.5, (s.durationMs / span) * 100);
        return (
          <div class="step-row" key={`${s.step}-${index}`} data-step={s.step}>
            <span class="step-name">{s.step}</span>
            <span class="step-track">
              <span
                class="step-bar"
                style={{ marginLeft: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
                title={`${s.step}: ${duration(s.durationMs)}`}
              />
            </span>
            <span class="step-time">{duration(s.durationMs)}</span>
          </div>
        );
      })}
      <figcaption>
        {steps.length} steps over {duration(end - start)}
      </figcaption>
    </figure>
  );
}
