import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The last log position a projection has applied; written in the same transaction as its rows. */
@Entity({ name: 'projection_checkpoint' })
export class ProjectionCheckpoint {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'integer' })
  position!: number;
}
