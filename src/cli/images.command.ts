import type { Command } from 'commander';
import { isUuid } from '../domain/request-context';
import type { ApiClient } from './api-client';
import { addConnectionOptions, type ConnectApi, wholeNumberOption } from './connection-options';
import { printList, type Column } from './output';
import { resolveInstance } from './snapshot.command';

/** The fields of a Glance image the table shows. */
interface GlanceImageRow {
  id: string;
  name: string;
  status: string;
  instance_uuid?: string;
  size: number | null;
  created_at: string;
}

interface GlanceImageList {
  images: GlanceImageRow[];
  next?: string;
}

const COLUMNS: readonly Column<GlanceImageRow>[] = [
  { header: 'id', value: (i) => i.id },
  { header: 'name', value: (i) => i.name },
  { header: 'status', value: (i) => i.status },
  { header: 'instance', value: (i) => i.instance_uuid },
  { header: 'size', value: (i) => i.size },
  { header: 'created_at', value: (i) => i.created_at },
];

export interface ImagesOptions {
  /** Instance uuid, or a libvirt domain name resolved through /v1/instances. */
  readonly instance?: string;
  readonly status?: string;
  readonly name?: string;
  /** One page of this many images; without it, every page is fetched by following `next`. */
  readonly limit?: number;
  readonly json: boolean;
  readonly out?: NodeJS.WritableStream;
}

/** Page size when following `next` to the end: Glance's maximum. */
const FULL_LIST_PAGE = 1000;

/**
 * `snapledger images`: the Glance list (`GET /v2/images`) as a table or, with --json, as
 * `{"images": [...]}` in Glance's image shape.
 */
export async function imagesCommand(api: ApiClient, options: ImagesOptions): Promise<void> {
  const query = new URLSearchParams();
  if (options.instance !== undefined) {
    const id = isUuid(options.instance)
      ? options.instance.toLowerCase()
      : (await resolveInstance(api, options.instance)).id;
    query.set('instance_uuid', id);
  }
  if (options.status !== undefined) query.set('status', options.status);
  // eq: so that a name holding a colon is not read as an operator.
  if (options.name !== undefined) query.set('name', `eq:${options.name}`);
  query.set('limit', String(options.limit ?? FULL_LIST_PAGE));

  const images: GlanceImageRow[] = [];
  let path: string | undefined = `/v2/images?${query.toString()}`;
  while (path !== undefined) {
    const { body }: { body: GlanceImageList } = await api.request<GlanceImageList>('GET', path);
    images.push(...body.images);
    path = options.limit === undefined ? body.next : undefined;
  }
  printList({ json: options.json }, { images }, images, COLUMNS, options.out);
}

export function registerImagesCommand(program: Command, connect: ConnectApi): void {
  addConnectionOptions(
    program
      .command('images')
      .description('images (snapshots) the token may see, newest first, from the Glance list')
      .option('--instance <instance>', 'only snapshots of this instance (uuid or domain name)')
      .option('--status <status>', 'only images in this status (queued, saving, active, killed)')
      .option('--name <name>', 'only images with exactly this name')
      .option(
        '--limit <n>',
        'one page of at most this many images (0-1000); default: every image',
        wholeNumberOption('--limit', 0, 1000),
      )
      .option('--json', 'print {"images": [...]} in Glance\'s image shape', false),
  ).action(
    async (opts: Omit<ImagesOptions, 'out'> & { url?: string; token?: string }): Promise<void> => {
      await imagesCommand(connect(opts), opts);
    },
  );
}
