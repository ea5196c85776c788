import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { HYPERVISOR, type Hypervisor } from '../../drivers/hypervisor.port';

/** How long libvirt may take to answer a probe. */
export const LIBVIRT_PING_TIMEOUT_MS = 2000;
/** A probe's answer is reused this long, so frequent probes do not spawn a virsh each. */
export const LIBVIRT_PING_CACHE_MS = 5000;

/**
 * Ready when libvirt answers on the configured connection (`virsh uri`), within two seconds;
 * the answer is cached for five. Says only whether it answered: no URI, no error text.
 */
@Injectable()
export class LibvirtHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(HYPERVISOR) private readonly hypervisor: Hypervisor,
  ) {}

  check(key = 'libvirt') {
    return this.health
      .check(key)
      .attempt(async () => {
        try {
          await this.hypervisor.ping(LIBVIRT_PING_TIMEOUT_MS);
        } catch {
          throw new Error('libvirt does not answer');
        }
      })
      .withTimeout(LIBVIRT_PING_TIMEOUT_MS + 500)
      .cacheFor(LIBVIRT_PING_CACHE_MS);
  }
}
