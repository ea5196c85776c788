import { getJson, type Instance } from '../api';
import { powerState, when } from '../format';
import { hrefOf } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { ErrorLine } from './ErrorLine';

/** The project's instances with their Nova states. */
export function InstanceList({ session }: { session: Session }) {
  const { data, error, loading, reload } = useLoad('instances', () =>
    getJson<{ instances: Instance[] }>(session.token, '/v1/instances'),
  );
  return (
    <section>
      <header class="section-head">
        <h2>Instances</h2>
        <button type="button" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </header>
      <ErrorLine message={error} />
      {data && data.instances.length === 0 && <p>This project has no instances.</p>}
      {data && data.instances.length > 0 && (
        <table aria-label="Instances">
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Power</th>
              <th>Task</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {data.instances.map((i) => (
              <tr key={i.id} data-instance={i.id}>
                <td>
                  <a href={hrefOf.instance(i.id)}>{i.name}</a>
                  <div class="id">{i.id}</div>
                </td>
                <td>
                  <span class={`state state-${i.vm_state}`}>{i.vm_state}</span>
                </td>
                <td>{powerState(i.power_state)}</td>
                <td>{i.task_state ?? '—'}</td>
                <td>{when(i.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
