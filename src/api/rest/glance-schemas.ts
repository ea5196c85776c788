/**
 * The JSON Schemas Glance publishes at /v2/schemas/image and /v2/schemas/images, for the image
 * fields snapledger shows (glance-image.shape.ts). python-glanceclient reads them before it
 * lists or shows images, and checks every image it receives against them; image properties
 * (Nova's image_type, instance_uuid, …) are strings, as in Glance.
 */
const nullable = (type: string, extra: Record<string, unknown> = {}) => ({
  type: ['null', type],
  ...extra,
});

const IMAGE_PROPERTIES = {
  id: {
    type: 'string',
    description: 'The image id (a uuid).',
    pattern:
      '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
  },
  name: nullable('string', { maxLength: 255, description: 'The name given at createImage.' }),
  status: {
    type: 'string',
    enum: [
      'queued',
      'saving',
      'active',
      'killed',
      'deleted',
      'pending_delete',
      'deactivated',
      'uploading',
      'importing',
    ],
    description: 'Where the image is in its life.',
  },
  visibility: { type: 'string', enum: ['community', 'public', 'private', 'shared'] },
  protected: { type: 'boolean' },
  os_hidden: { type: 'boolean' },
  checksum: nullable('string', {
    maxLength: 32,
    description: 'md5 of the data a download returns.',
  }),
  os_hash_algo: nullable('string', { maxLength: 64 }),
  os_hash_value: nullable('string', { maxLength: 128, description: 'sha512 of the same data.' }),
  owner: nullable('string', { maxLength: 255, description: 'The owning project.' }),
  size: nullable('integer', { description: 'Bytes a download returns.' }),
  virtual_size: nullable('integer', { description: 'The size of the guest disk, in bytes.' }),
  min_ram: { type: 'integer' },
  min_disk: { type: 'integer' },
  container_format: nullable('string', {
    enum: [null, 'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'],
  }),
  disk_format: nullable('string', {
    enum: [null, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'],
  }),
  created_at: { type: 'string', readOnly: true },
  updated_at: { type: 'string', readOnly: true },
  tags: { type: 'array', items: { type: 'string', maxLength: 255 } },
  self: { type: 'string', readOnly: true },
  file: { type: 'string', readOnly: true },
  schema: { type: 'string', readOnly: true },
} as const;

const IMAGE_LINKS = [
  { rel: 'self', href: '{self}' },
  { rel: 'enclosure', href: '{file}' },
  { rel: 'describedby', href: '{schema}' },
];

/** GET /v2/schemas/image. */
export function imageSchema() {
  return {
    name: 'image',
    properties: IMAGE_PROPERTIES,
    additionalProperties: { type: 'string' },
    links: IMAGE_LINKS,
  };
}

/** GET /v2/schemas/images: a page of the image list. */
export function imagesSchema() {
  return {
    name: 'images',
    properties: {
      images: { type: 'array', items: imageSchema() },
      schema: { type: 'string' },
      first: { type: 'string' },
      next: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}
