import { count, duration, when } from '../format';
import { useLogVerification } from '../log-verification.store';
import type { Session } from '../session';
import { ErrorLine } from './ErrorLine';

/**
 * The log's hash chain as it was last verified, by the service or by `snapledger verify` on the
 * host (GET /v1/log/verification), with a
 * button that starts a new walk and a progress bar while it runs. `compact` is the header
 * badge; the full view also shows the head to keep for `snapledger verify --expect-head`.
 */
export function LogStatus({ session, compact = false }: { session: Session; compact?: boolean }) {
  const { state, error, start } = useLogVerification(session.token);

  const last = state?.last ?? null;
  const verdict =
    state === null
      ? 'unknown'
      : !state.supported
        ? 'unsupported'
        : state.running !== null
          ? 'checking'
          : last === null
            ? 'unchecked'
            : last.ok
              ? 'whole'
              : 'broken';
  const words: Record<string, string> = {
    unknown: 'log: …',
    unsupported: 'log: no hash chain',
    checking: 'log: checking…',
    unchecked: 'log: not checked yet',
    whole: 'log: hash chain whole',
    broken: 'log: BROKEN',
  };

  if (compact)
    return (
      <a href="#/log" class={`badge badge-${verdict}`} data-testid="log-badge">
        {words[verdict]}
      </a>
    );

  const running = state?.running ?? null;
  return (
    <section data-verdict={verdict}>
      <header class="section-head">
        <h2>Event log integrity</h2>
        <button
          type="button"
          onClick={start}
          disabled={
            !state?.supported ||
            running !== null ||
            !session.roles.some((r) => r === 'member' || r === 'admin')
          }
        >
          Verify now
        </button>
      </header>
      <ErrorLine message={error} />
      <p class={`verdict verdict-${verdict}`} data-testid="log-verdict">
        {words[verdict]}
      </p>
      {state && !state.supported && (
        <p>This log is kept in EventStoreDB, which snapledger does not hash-chain.</p>
      )}
      {running && (
        <div class="progress">
          <progress max={Math.max(1, running.last_position)} value={running.verified} />
          <span class="progress-label">
            {count(running.verified)} of {count(running.last_position)} events
          </span>
        </div>
      )}
      {last && (
        <dl class="facts">
          <dt>Checked</dt>
          <dd data-testid="log-checked">
            {when(last.finished_at)} in {duration(last.duration_ms)},{' '}
            {last.source === 'cli'
              ? 'by snapledger verify on the host'
              : `by the service${last.requested_by ? `, asked by ${last.requested_by}` : ''}`}
          </dd>
          <dt>Events verified</dt>
          <dd>
            {count(last.verified)} of {count(last.last_position)}
          </dd>
          <dt>Head</dt>
          <dd class="id" data-testid="log-head">
            {last.head ?? '—'}
          </dd>
          {last.break && (
            <>
              <dt>First break</dt>
              <dd class="error">
                position {last.break.position}: {last.break.kind}
                {last.break.detail && <div>{last.break.detail}</div>}
              </dd>
            </>
          )}
        </dl>
      )}
      {state?.error && <p class="error">{state.error}</p>}
      <p class="muted">
        Keep the head elsewhere; <code>snapledger verify --expect-head HEAD</code> later proves the
        log up to it was not rewritten.
      </p>
    </section>
  );
}
