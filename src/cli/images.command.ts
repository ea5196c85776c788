import type { Command } from 'commander';
import { isUuid } from '../domain/request-context';
import type { ApiClient } from './api-client';
import { addConnectionOptions, type ConnectApi, wholeNumberOption } from './connection-options';
import { CliError, ExitCode } from './exit-codes';
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
  const images = addConnectionOptions(
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
  addConnectionOptions(
    images
      .command('verify')
      .description(
        "check an image's stored data: qemu-img check of its file (and every layer under a backup), and its checksums",
      )
      .argument('<image>', 'image uuid')
      .option('--json', 'print the API answer as JSON', false),
  ).action(async (image: string, _opts: unknown, command: Command) => {
    // `images` has --json, --url and --token of its own: it takes them when they come after
    // the subcommand's name, so they are read with the parent's.
    const opts = command.optsWithGlobals<{ json: boolean; url?: string; token?: string }>();
    await imagesVerifyCommand(connect(opts), image, opts);
  });
}

/** POST /v1/images/{id}/verify's answer. */
interface VerifyAnswer {
  image_id: string;
  ok: boolean;
  files: { image_id: string; ok: boolean; output: string }[];
  size: { expected: number | null; actual: number | null };
  checksum: { expected: string | null; actual: string | null };
  os_hash_value: { expected: string | null; actual: string | null };
}

/**
 * `snapledger images verify <image>`: qemu-img check of the image's file (every layer of a
 * backup chain), and its whole data hashed again against the recorded checksums. Exits 1
 * when anything differs.
 */
export async function imagesVerifyCommand(
  api: ApiClient,
  imageId: string,
  options: { json: boolean; out?: NodeJS.WritableStream },
): Promise<void> {
  const out = options.out ?? process.stdout;
  if (!isUuid(imageId)) throw new CliError(`not an image id: ${imageId}`, ExitCode.usage);
  const { body } = await api.request<VerifyAnswer>('POST', `/v1/images/${imageId}/verify`);
  if (options.json) {
    out.write(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    for (const file of body.files) {
      out.write(
        `${file.ok ? 'ok  ' : 'BAD '} ${file.image_id}${file.ok ? '' : `: ${file.output}`}\n`,
      );
    }
    const same = (a: unknown, b: unknown) => (a === b ? 'matches' : `differs (${String(b)})`);
    out.write(
      `size      ${String(body.size.expected)} ${same(body.size.expected, body.size.actual)}\n`,
    );
    out.write(
      `checksum  ${String(body.checksum.expected)} ${same(body.checksum.expected, body.checksum.actual)}\n`,
    );
    out.write(
      `os_hash   ${String(body.os_hash_value.expected).slice(0, 16)}… ${same(body.os_hash_value.expected, body.os_hash_value.actual)}\n`,
    );
    out.write(
      body.ok
        ? `image ${body.image_id} verified\n`
        : `image ${body.image_id} FAILED verification\n`,
    );
  }
  if (!body.ok) throw new CliError(`image ${imageId} failed verification`, ExitCode.failure);
}
