import type { BackupPolicySet } from '../events';
import { InstanceNotFoundError } from './domain-errors';
import type { InstanceState } from './instance.state';

/** Sets an instance's backup policy; nothing is recorded when it already is so. */
export function decideBackupPolicy(
  state: InstanceState,
  request: { readonly instanceId: string; readonly incremental: boolean },
): BackupPolicySet[] {
  if (!state.exists || state.deleted) throw new InstanceNotFoundError(request.instanceId);
  if (state.incrementalBackups === request.incremental) return [];
  return [
    {
      type: 'BackupPolicySet',
      data: { instanceId: request.instanceId, incremental: request.incremental },
    },
  ];
}
