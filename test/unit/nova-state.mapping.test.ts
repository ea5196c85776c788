import { describe, expect, it } from 'vitest';
import { novaStateOf } from '../../src/domain/nova-state.mapping';
import type { LibvirtDomainState } from '../../src/drivers/hypervisor.port';
import type { PowerState, VmState } from '../../src/events';

describe('novaStateOf', () => {
  it.each<[LibvirtDomainState, boolean, VmState, PowerState]>([
    ['running', false, 'active', 'running'],
    ['paused', false, 'paused', 'paused'],
    ['shut off', true, 'suspended', 'shutdown'],
    ['shut off', false, 'stopped', 'shutdown'],
    ['crashed', false, 'error', 'crashed'],
  ])(
    'given libvirt state %j with managed save %s, when mapped, then Nova sees vm_state %s and power_state %s',
    (libvirt, hasManagedSave, vmState, powerState) => {
      expect(novaStateOf(libvirt, hasManagedSave)).toEqual({ vmState, powerState });
    },
  );

  it('given an idle domain, when mapped, then the guest still counts as active and running', () => {
    expect(novaStateOf('idle', false)).toEqual({ vmState: 'active', powerState: 'running' });
  });

  it('given a domain in shutdown, when mapped, then its power state is shutdown, as Nova maps it', () => {
    expect(novaStateOf('in shutdown', false)).toEqual({
      vmState: 'active',
      powerState: 'shutdown',
    });
  });

  it('given a pmsuspended domain, when mapped, then it is suspended/suspended', () => {
    expect(novaStateOf('pmsuspended', false)).toEqual({
      vmState: 'suspended',
      powerState: 'suspended',
    });
  });

  it('given a domain with no state, when mapped, then it is error/nostate', () => {
    expect(novaStateOf('no state', false)).toEqual({ vmState: 'error', powerState: 'nostate' });
  });

  it.each<LibvirtDomainState>(['running', 'paused', 'crashed'])(
    'given a %j domain, when a managed-save image also exists, then only shut off is affected by it',
    (libvirt) => {
      expect(novaStateOf(libvirt, true)).toEqual(novaStateOf(libvirt, false));
    },
  );
});
