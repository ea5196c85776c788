import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A user who may sign in through the Keystone v3 password method (/identity/v3). Users live
 * in the only domain, "Default", and have roles on one project. Only a scrypt hash of the
 * password is stored (see api/auth/password-hash.ts).
 */
@Entity({ name: 'user_account' })
export class UserAccount {
  /** A uuid, Keystone's user id; tokens issued to the user carry it as their actor's user. */
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', unique: true })
  name!: string;

  @Column({ type: 'text' })
  projectId!: string;

  /** Comma-separated role names: reader, member, admin. */
  @Column({ type: 'text' })
  roles!: string;

  /** `scrypt$ln=..,r=..,p=..$salt$key`, never the password. */
  @Column({ type: 'text' })
  passwordHash!: string;

  @Column({ type: 'text' })
  createdAt!: string;
}
