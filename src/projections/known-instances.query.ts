import type { DataSource } from 'typeorm';
import type { KnownInstances } from '../commands/sync-instances.command';
import { InstanceView } from './entities/instance-view.entity';

/**
 * The instances a sync compares with libvirt, from instance_view (not deleted). The view may
 * lag the log by a moment; the sync decides each deletion from the instance's own stream.
 * An agent compares only its own host's instances: another host's are not missing from its
 * libvirt, they were never there.
 */
export class KnownInstancesFromViews implements KnownInstances {
  constructor(
    private readonly db: DataSource,
    /** The agent's host; null (all-in-one): every instance. */
    private readonly host: string | null = null,
  ) {}

  private get onHost(): { host?: string } {
    return this.host === null ? {} : { host: this.host };
  }

  async list(): Promise<{ instanceId: string; domainName: string }[]> {
    const rows = await this.db
      .getRepository(InstanceView)
      .find({ where: { deleted: false, ...this.onHost }, select: { id: true, name: true } });
    return rows.map((r) => ({ instanceId: r.id, domainName: r.name }));
  }

  async isHeld(domainName: string): Promise<boolean> {
    const rows = await this.db.getRepository(InstanceView).find({
      where: { name: domainName, deleted: false, ...this.onHost },
      select: { id: true, taskState: true },
    });
    return rows.some((r) => r.taskState !== null);
  }
}
