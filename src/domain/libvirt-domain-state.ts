/** libvirt's own domain states, as `virsh domstate` reports them. */
export type LibvirtDomainState =
  | 'running'
  | 'idle'
  | 'paused'
  | 'in shutdown'
  | 'shut off'
  | 'crashed'
  | 'pmsuspended'
  | 'no state';
