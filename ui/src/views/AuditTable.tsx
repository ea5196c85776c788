import type { AuditEntry } from '../api';
import { when, who } from '../format';
import { hrefOf } from '../router';

/** Audit entries: each event with when, what, who (user, project, roles) and its ids. */
export function AuditTable({ entries, label }: { entries: AuditEntry[]; label: string }) {
  return (
    <table aria-label={label} class="audit">
      <thead>
        <tr>
          <th>#</th>
          <th>When</th>
          <th>Event</th>
          <th>Actor</th>
          <th>Request / correlation</th>
          <th>Subject</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((a) => (
          <tr key={a.event_id} data-type={a.type} data-position={a.position}>
            <td>{a.position}</td>
            <td>{when(a.occurred_at)}</td>
            <td>
              <strong>{a.type}</strong>
              <div>{a.summary}</div>
              <details>
                <summary>data</summary>
                <pre>{JSON.stringify(a.data, null, 2)}</pre>
              </details>
            </td>
            <td>
              {who(a.user_id, a.user_name)}
              <div class="id">
                {a.actor_project_id ?? '—'}
                {a.actor_roles.length > 0 && ` · ${a.actor_roles.join(', ')}`}
              </div>
            </td>
            <td class="id">
              <div title="request id">request {a.request_id ?? '—'}</div>
              <div title="correlation id">correlation {a.correlation_id ?? '—'}</div>
              {a.causation_id && a.causation_id !== a.request_id && (
                <div title="causation id">caused by {a.causation_id}</div>
              )}
            </td>
            <td class="id">
              {a.instance_id && (
                <div>
                  instance <a href={hrefOf.instance(a.instance_id)}>{a.instance_id}</a>
                </div>
              )}
              {a.image_id && (
                <div>
                  image <a href={hrefOf.image(a.image_id)}>{a.image_id}</a>
                </div>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
