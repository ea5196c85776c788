import type { LibvirtDomainState } from './libvirt-domain-state';
import type { PowerState, VmState } from '../events';

/**
 * Maps a libvirt domain state onto Nova's vm_state and power_state, as Nova's libvirt driver
 * and power-state sync do. A shut-off domain with a managed-save image is Nova's "suspended".
 */
export function novaStateOf(
  state: LibvirtDomainState,
  hasManagedSave: boolean,
): { vmState: VmState; powerState: PowerState } {
  switch (state) {
    case 'running':
    case 'idle':
      return { vmState: 'active', powerState: 'running' };
    case 'in shutdown':
      // Nova maps VIR_DOMAIN_SHUTDOWN to power_state SHUTDOWN: the guest is on its way off.
      return { vmState: 'active', powerState: 'shutdown' };
    case 'paused':
      return { vmState: 'paused', powerState: 'paused' };
    case 'shut off':
      return hasManagedSave
        ? { vmState: 'suspended', powerState: 'shutdown' }
        : { vmState: 'stopped', powerState: 'shutdown' };
    case 'crashed':
      return { vmState: 'error', powerState: 'crashed' };
    case 'pmsuspended':
      return { vmState: 'suspended', powerState: 'suspended' };
    default:
      return { vmState: 'error', powerState: 'nostate' };
  }
}
