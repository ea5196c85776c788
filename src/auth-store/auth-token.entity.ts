import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An API token. Only its sha256 is stored; the token itself is shown once, when made. */
@Entity({ name: 'auth_token' })
export class AuthToken {
  @PrimaryColumn({ type: 'text' })
  tokenHash!: string;

  @Column({ type: 'text' })
  userId!: string;

  /** The user account's name when the token was issued to one (Keystone sign-in); else null. */
  @Column({ type: 'text', nullable: true })
  userName!: string | null;

  @Column({ type: 'text' })
  projectId!: string;

  /** Comma-separated role names: reader, member, admin. */
  @Column({ type: 'text' })
  roles!: string;

  @Column({ type: 'text' })
  createdAt!: string;

  @Column({ type: 'text', nullable: true })
  expiresAt!: string | null;

  @Column({ type: 'text', nullable: true })
  revokedAt!: string | null;
}
