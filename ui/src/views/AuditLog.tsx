import { useState } from 'preact/hooks';
import { type AuditPage, getJson, withQuery } from '../api';
import { hrefOf } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { AuditTable } from './AuditTable';
import { ErrorLine } from './ErrorLine';

const PAGE_SIZE = '50';
const FILTERS = ['project', 'instance', 'image', 'user', 'type', 'since', 'until'] as const;
type Filter = (typeof FILTERS)[number];

/** Event types an auditor asks about most; the field takes any type. */
const COMMON_TYPES = [
  'TaskStateChanged',
  'SnapshotPlanned',
  'SnapshotQueued',
  'ImageReserved',
  'DomainSaveStarted',
  'DomainSaved',
  'DomainRestored',
  'DiskMirrored',
  'ImageExtracted',
  'Uploaded',
  'SnapshotFailed',
  'ImageDeleted',
  'InstanceRegistered',
  'InstanceDeleted',
  'PowerStateSynced',
  'BackupPolicySet',
  'LogHashesBackfilled',
];

/** datetime-local gives local time without a zone; the API takes ISO-8601 instants. */
const toIso = (local: string): string | undefined =>
  local === '' ? undefined : new Date(local).toISOString();

/**
 * The audit log with filters (project, instance, image, actor, action, time range) and
 * keyset paging. The filters live in the URL so that a filtered view can be shared.
 */
export function AuditLog({ session, query }: { session: Session; query: URLSearchParams }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Record<
    Filter,
    string
  >;
  const [draft, setDraft] = useState(filters);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(`audit:${query.toString()}:${cursor ?? ''}`, () =>
    getJson<AuditPage>(
      session.token,
      withQuery('/v1/audit', {
        project: filters.project,
        instance: filters.instance,
        image: filters.image,
        user: filters.user,
        type: filters.type,
        since: toIso(filters.since),
        until: toIso(filters.until),
        order: 'desc',
        limit: PAGE_SIZE,
        cursor,
      }),
    ),
  );

  const field = (name: Filter, label: string, type: 'text' | 'datetime-local' = 'text') => (
    <label>
      {label}
      <input
        name={name}
        type={type}
        list={name === 'type' ? 'event-types' : undefined}
        value={draft[name]}
        onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
      />
    </label>
  );

  return (
    <section>
      <header class="section-head">
        <h2>Audit log</h2>
        <button type="button" onClick={page.reload}>
          Refresh
        </button>
      </header>
      <form
        class="filters"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([]);
          const next = new URLSearchParams();
          for (const f of FILTERS) if (draft[f].trim() !== '') next.set(f, draft[f].trim());
          location.hash = hrefOf.audit(next);
        }}
      >
        {field('project', 'Project')}
        {field('instance', 'Instance')}
        {field('image', 'Image')}
        {field('user', 'Actor (user id)')}
        {field('type', 'Action (event type)')}
        {field('since', 'From', 'datetime-local')}
        {field('until', 'Until', 'datetime-local')}
        <datalist id="event-types">
          {COMMON_TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <button type="submit">Filter</button>
        <button
          type="button"
          onClick={() => {
            setCursors([]);
            setDraft(Object.fromEntries(FILTERS.map((f) => [f, ''])) as Record<Filter, string>);
            location.hash = hrefOf.audit();
          }}
        >
          Clear
        </button>
      </form>
      <ErrorLine message={page.error} />
      {page.data && page.data.audit.length === 0 && <p>No entries match.</p>}
      {page.data && page.data.audit.length > 0 && (
        <AuditTable entries={page.data.audit} label="Audit log" />
      )}
      <nav class="pager">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            Newer
          </button>
        )}
        {page.data?.next_cursor && (
          <button
            type="button"
            onClick={() => setCursors([...cursors, page.data?.next_cursor ?? ''])}
          >
            Older
          </button>
        )}
      </nav>
    </section>
  );
}
