import { useState } from 'preact/hooks';
import { getJson, type Instance, sendJson, type Snapshot, withQuery } from '../api';
import { bytes, duration, powerState, when, who } from '../format';
import { hrefOf } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { ProgressBar } from './ProgressBar';
import { StepChart } from './StepChart';
import { ErrorLine } from './ErrorLine';

const HISTORY_PAGE = 20;

/** Nova's createImage with microversion 2.45, which answers with the new image's id. */
async function createImage(session: Session, instanceId: string, name: string): Promise<string> {
  const body = await sendJson<{ image_id: string }>(
    session.token,
    `/v2.1/servers/${encodeURIComponent(instanceId)}/action`,
    'POST',
    { createImage: { name } },
    { 'OpenStack-API-Version': 'compute 2.45' },
  );
  return body.image_id;
}

function TakeSnapshot({
  session,
  instance,
  onStarted,
}: {
  session: Session;
  instance: Instance;
  onStarted: (imageId: string) => void;
}) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="take-snapshot"
      aria-label="Take a snapshot"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          onStarted(await createImage(session, instance.id, name.trim()));
          setName('');
        } catch (failure) {
          setError(failure instanceof Error ? failure.message : String(failure));
        } finally {
          setBusy(false);
        }
      }}
    >
      <label>
        Snapshot name
        <input
          name="snapshot-name"
          value={name}
          maxLength={255}
          onInput={(e) => setName(e.currentTarget.value)}
          required
        />
      </label>
      <button type="submit" disabled={busy || instance.vm_state === 'deleted'}>
        Take snapshot
      </button>
      <ErrorLine message={error} inline />
    </form>
  );
}

function HistoryRow({
  session,
  snapshot,
  onFinished,
}: {
  session: Session;
  snapshot: Snapshot;
  onFinished: () => void;
}) {
  return (
    <tr data-image={snapshot.image_id} data-result={snapshot.result}>
      <td>
        <a href={hrefOf.image(snapshot.image_id)}>{snapshot.image_name}</a>
        <div class="id">{snapshot.image_type}</div>
      </td>
      <td>{snapshot.mode ?? '—'}</td>
      <td>
        {snapshot.result === 'running' ? (
          <ProgressBar session={session} imageId={snapshot.image_id} onFinished={onFinished} />
        ) : (
          <span class={`result result-${snapshot.result}`}>{snapshot.result}</span>
        )}
        {snapshot.failure_reason && <div class="error">{snapshot.failure_reason}</div>}
      </td>
      <td>{duration(snapshot.downtime_ms)}</td>
      <td>{duration(snapshot.duration_ms)}</td>
      <td>
        {snapshot.backup
          ? `${snapshot.backup.kind}${snapshot.backup.bytes_stored !== null ? `, ${bytes(snapshot.backup.bytes_stored)} stored` : ''}`
          : '—'}
      </td>
      <td>
        {who(snapshot.user_id, snapshot.user_name)}
        <div class="id">{when(snapshot.requested_at)}</div>
      </td>
      <td class="steps-cell">
        <details>
          <summary>{snapshot.steps.length} steps</summary>
          <StepChart steps={snapshot.steps} />
        </details>
      </td>
    </tr>
  );
}

/** One instance: its state, a snapshot button, and its snapshot history with step timings. */
export function InstancePage({ session, id }: { session: Session; id: string }) {
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [started, setStarted] = useState<string[]>([]);
  const instance = useLoad(`instance:${id}`, () =>
    getJson<{ instance: Instance }>(session.token, `/v1/instances/${encodeURIComponent(id)}`),
  );
  const history = useLoad(`history:${id}:${cursor ?? ''}:${started.length}`, () =>
    getJson<{ snapshots: Snapshot[]; next_cursor: string | null }>(
      session.token,
      withQuery(`/v1/instances/${encodeURIComponent(id)}/snapshots`, {
        limit: String(HISTORY_PAGE),
        cursor,
      }),
    ),
  );
  const refresh = () => {
    instance.reload();
    history.reload();
  };

  if (instance.error) return <ErrorLine message={instance.error} />;
  const i = instance.data?.instance;
  // A snapshot just started may not be in the history page yet: follow it on its own.
  const listed = new Set(history.data?.snapshots.map((s) => s.image_id) ?? []);
  const pending = started.filter((imageId) => !listed.has(imageId));
  return (
    <section>
      <p>
        <a href={hrefOf.instances()}>← Instances</a>
      </p>
      {i && (
        <>
          <header class="section-head">
            <h2>{i.name}</h2>
            <button type="button" onClick={refresh}>
              Refresh
            </button>
          </header>
          <dl class="facts">
            <dt>ID</dt>
            <dd class="id">{i.id}</dd>
            <dt>State</dt>
            <dd>
              <span class={`state state-${i.vm_state}`} data-testid="vm-state">
                {i.vm_state}
              </span>{' '}
              · power {powerState(i.power_state)} · task {i.task_state ?? 'none'}
            </dd>
            <dt>Disk</dt>
            <dd>{i.disk_format ?? '—'}</dd>
            <dt>Audit</dt>
            <dd>
              <a href={hrefOf.audit(new URLSearchParams({ instance: i.id }))}>
                this instance's audit log
              </a>
            </dd>
          </dl>
          <TakeSnapshot
            session={session}
            instance={i}
            onStarted={(imageId) => setStarted((s) => [...s, imageId])}
          />
        </>
      )}
      {pending.map((imageId) => (
        <ProgressBar key={imageId} session={session} imageId={imageId} onFinished={refresh} />
      ))}
      <h3>Snapshot history</h3>
      <ErrorLine message={history.error} />
      {history.data && history.data.snapshots.length === 0 && <p>No snapshots yet.</p>}
      {history.data && history.data.snapshots.length > 0 && (
        <table aria-label="Snapshot history">
          <thead>
            <tr>
              <th>Image</th>
              <th>Mode</th>
              <th>Result</th>
              <th>Downtime</th>
              <th>Took</th>
              <th>Backup</th>
              <th>Asked by</th>
              <th>Steps</th>
            </tr>
          </thead>
          <tbody>
            {history.data.snapshots.map((s) => (
              <HistoryRow key={s.image_id} session={session} snapshot={s} onFinished={refresh} />
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager">
        {cursor !== undefined && (
          <button type="button" onClick={() => setCursor(undefined)}>
            Newest
          </button>
        )}
        {history.data?.next_cursor && (
          <button type="button" onClick={() => setCursor(history.data?.next_cursor ?? undefined)}>
            Older
          </button>
        )}
      </nav>
    </section>
  );
}
