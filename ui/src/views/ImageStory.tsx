import { ApiError, type AuditPage, getJson, type GlanceImage, withQuery } from '../api';
import { bytes, when, who } from '../format';
import { hrefOf } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { AuditTable } from './AuditTable';
import { ErrorLine } from './ErrorLine';

/** Audit pages are at most 1,000 entries; an image's story is a few dozen events. */
const STORY_PAGE = 1000;

async function wholeStory(session: Session, id: string) {
  const entries: AuditPage['audit'] = [];
  let cursor: string | undefined;
  do {
    const page = await getJson<AuditPage>(
      session.token,
      withQuery('/v1/audit', { image: id, order: 'asc', limit: String(STORY_PAGE), cursor }),
    );
    entries.push(...page.audit);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return entries;
}

/** An image's whole story: the image as Glance shows it, then every event about it in order. */
export function ImageStory({ session, id }: { session: Session; id: string }) {
  const image = useLoad(`image:${id}`, () =>
    getJson<GlanceImage>(session.token, `/v2/images/${encodeURIComponent(id)}`).catch(
      (failure: unknown) => {
        // A deleted image keeps its story in the log; Glance no longer shows it.
        if (failure instanceof ApiError && failure.status === 404) return null;
        throw failure;
      },
    ),
  );
  const story = useLoad(`story:${id}`, () => wholeStory(session, id));
  const first = story.data?.[0];
  return (
    <section>
      <header class="section-head">
        <h2>Image {image.data?.name ?? id}</h2>
        <button
          type="button"
          onClick={() => {
            image.reload();
            story.reload();
          }}
        >
          Refresh
        </button>
      </header>
      <ErrorLine message={image.error ?? story.error} />
      <dl class="facts">
        <dt>ID</dt>
        <dd class="id">{id}</dd>
        <dt>Status</dt>
        <dd data-testid="image-status">
          {image.data ? image.data.status : image.loading ? '…' : 'deleted'}
        </dd>
        {image.data && (
          <>
            <dt>Size</dt>
            <dd>
              {bytes(image.data.size)} · {image.data.disk_format ?? '—'}
            </dd>
            <dt>Checksum</dt>
            <dd class="id">{image.data.checksum ?? '—'}</dd>
          </>
        )}
        {first && (
          <>
            <dt>Asked by</dt>
            <dd>
              {who(first.user_id, first.user_name)} ({first.actor_project_id ?? '—'}) at{' '}
              {when(first.occurred_at)}, request {first.request_id ?? '—'}
            </dd>
            {first.instance_id && (
              <>
                <dt>Instance</dt>
                <dd>
                  <a href={hrefOf.instance(first.instance_id)}>{first.instance_id}</a>
                </dd>
              </>
            )}
          </>
        )}
      </dl>
      <h3>Events</h3>
      {story.data && story.data.length === 0 && <p>No events name this image.</p>}
      {story.data && story.data.length > 0 && (
        <AuditTable entries={story.data} label="Image story" />
      )}
    </section>
  );
}
