import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Glance image status, as snapledger uses it. A failed snapshot stays `killed`. */
export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted';

/**
 * One row per image (snapshot or backup), shaped like a Glance v2 image record.
 * Every value comes from events on image-<uuid> (and the TaskStateChanged that starts
 * the upload); times are the events' occurredAt.
 */
@Entity({ name: 'image_view' })
export class ImageView {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  status!: ImageStatus;

  @Column({ type: 'text' })
  visibility!: 'private' | 'shared';

  /** The owner (Glance `owner`). */
  @Index('idx_image_view_project')
  @Column({ type: 'text' })
  projectId!: string;

  @Column({ type: 'text' })
  userId!: string;

  @Index('idx_image_view_instance')
  @Column({ type: 'text' })
  instanceId!: string;

  /** snapshot or backup. */
  @Column({ type: 'text' })
  imageType!: string;

  /** Glance properties (Nova's snapshot properties overlaid with the user's metadata). */
  @Column({ type: 'simple-json' })
  properties!: Record<string, string>;

  @Column({ type: 'text', nullable: true })
  diskFormat!: string | null;

  @Column({ type: 'text', nullable: true })
  containerFormat!: string | null;

  /** Bytes stored. */
  @Column({ type: 'integer', nullable: true })
  size!: number | null;

  /** Bytes of the virtual disk. */
  @Column({ type: 'integer', nullable: true })
  virtualSize!: number | null;

  /** md5 of the data, hex. */
  @Column({ type: 'text', nullable: true })
  checksum!: string | null;

  @Column({ type: 'text', nullable: true })
  osHashAlgo!: string | null;

  @Column({ type: 'text', nullable: true })
  osHashValue!: string | null;

  /** qemu-img convert progress, whole percent 0..100; null until the first report. */
  @Column({ type: 'integer', nullable: true })
  progress!: number | null;

  @Column({ type: 'text', nullable: true })
  failedStep!: string | null;

  @Column({ type: 'text', nullable: true })
  failureReason!: string | null;

  /** ISO-8601: occurredAt of ImageReserved. */
  @Column({ type: 'text' })
  createdAt!: string;

  /** ISO-8601: occurredAt of the last event that changed the row. */
  @Column({ type: 'text' })
  updatedAt!: string;

  /** ISO-8601: occurredAt of ImageDeleted. */
  @Column({ type: 'text', nullable: true })
  deletedAt!: string | null;
}
