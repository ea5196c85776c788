import { SingleBar, Presets } from 'cli-progress';
import type { ApiClient } from './api-client';
import { CliError, ExitCode } from './exit-codes';
import { followImageProgress, type ImageProgressEvent } from './image-progress.client';

interface InstanceRow {
  id: string;
  name: string;
}
interface SnapshotRow {
  image_id: string;
  result: 'running' | 'active' | 'killed' | 'deleted';
  task_state: string | null;
  progress: number | null;
  failed_step: string | null;
  failure_reason: string | null;
  mode: string | null;
  downtime_ms: number | null;
}

/** Finds an instance by uuid or by its libvirt domain name. */
export async function resolveInstance(api: ApiClient, ref: string): Promise<InstanceRow> {
  const { body } = await api.request<{ instances: InstanceRow[] }>('GET', '/v1/instances');
  const found = body.instances.filter((i) => i.id === ref || i.name === ref);
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new Error(`more than one instance is named ${ref}; use its uuid`);
  throw new CliError(
    `no instance ${ref} (run \`snapledger instances sync\` if the domain is new)`,
    ExitCode.notFound,
  );
}

/**
 * `snapledger snapshot <instance> --name N [--wait]`: createImage through the Nova route,
 * then (with --wait) a progress bar fed by the image's progress stream (SSE) until the
 * snapshot settles; the final line comes from the snapshot history.
 */
export async function snapshotCommand(
  api: ApiClient,
  instanceRef: string,
  options: {
    name: string;
    /** snapledger's extension: a layer over the instance's newest incremental snapshot. */
    incremental?: boolean;
    wait: boolean;
    out: NodeJS.WriteStream;
    progress: boolean;
    timeoutSeconds: number;
  },
): Promise<{ imageId: string; result: SnapshotRow['result'] | 'requested'; image?: unknown }> {
  const instance = await resolveInstance(api, instanceRef);
  const { body } = await api.request<{ image_id: string }>(
    'POST',
    `/v2.1/servers/${instance.id}/action`,
    {
      body: {
        createImage: { name: options.name, ...(options.incremental ? { incremental: true } : {}) },
      },
      headers: { 'OpenStack-API-Version': 'compute 2.45' },
    },
  );
  const imageId = body.image_id;
  options.out.write(`snapshot of ${instance.name} (${instance.id}) requested: image ${imageId}\n`);
  if (!options.wait) return { imageId, result: 'requested' };

  const bar = options.progress
    ? new SingleBar(
        {
          format: 'converting [{bar}] {percentage}% | {step}',
          hideCursor: true,
          // Also draw when stderr is not a terminal (SNAPLEDGER_PROGRESS=1), one line a second.
          noTTYOutput: true,
          notTTYSchedule: 1000,
        },
        Presets.shades_classic,
      )
    : null;
  bar?.start(100, 0, { step: 'queued' });
  // The progress bar follows the image's Server-Sent Events until the snapshot settles.
  const timeout = AbortSignal.timeout(options.timeoutSeconds * 1000);
  let final: ImageProgressEvent;
  try {
    final = await followImageProgress(api, imageId, {
      signal: timeout,
      onProgress: (event) =>
        bar?.update(Math.floor(event.progress ?? 0), { step: event.step ?? event.status }),
    });
  } catch (error) {
    bar?.stop();
    if (timeout.aborted)
      throw new CliError(
        `image ${imageId} did not finish within ${options.timeoutSeconds} s (it may still be running; see GET /v1/instances/${instance.id}/snapshots)`,
        ExitCode.timeout,
      );
    throw error;
  }
  const { body: history } = await api.request<{ snapshots: SnapshotRow[] }>(
    'GET',
    `/v1/instances/${instance.id}/snapshots?image=${imageId}`,
  );
  const row = history.snapshots[0];
  const result = row?.result ?? final.result ?? 'deleted';
  bar?.update(result === 'active' ? 100 : Math.floor(final.progress ?? 0), { step: result });
  bar?.stop();
  if (result === 'killed') {
    options.out.write(`snapshot failed at ${row?.failed_step}: ${row?.failure_reason}\n`);
    return { imageId, result: 'killed' };
  }
  if (result !== 'active') {
    options.out.write(`snapshot ${imageId} ended ${result}: its image was deleted\n`);
    return { imageId, result: 'deleted' };
  }
  const { body: image } = await api.request<unknown>('GET', `/v2/images/${imageId}`);
  options.out.write(
    `snapshot ${imageId} is active (mode ${row?.mode}, downtime ${row?.downtime_ms} ms)\n`,
  );
  return { imageId, result: 'active', image };
}
