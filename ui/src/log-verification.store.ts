import { useEffect, useState } from 'preact/hooks';
import { getJson, type LogVerification, sendJson } from './api';

const POLL_MS = 1000;

interface Snapshot {
  state: LogVerification | null;
  error: string | null;
}

/**
 * One copy of GET /v1/log/verification for the whole page, so that the header badge and the
 * log view always agree. Polled once a second while a walk runs; start() begins a walk.
 */
class LogVerificationStore {
  private snapshot: Snapshot = { state: null, error: null };
  private readonly listeners = new Set<(s: Snapshot) => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private token = '';

  subscribe(token: string, listener: (s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    listener(this.snapshot);
    // Each view that appears reads afresh: a walk started elsewhere (the CLI does not
    // report here, but another tab may) shows up.
    this.token = token;
    void this.refresh();
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    try {
      const body = await sendJson<{ verification: LogVerification }>(
        this.token,
        '/v1/log/verification',
        'POST',
        undefined,
      );
      this.publish({ state: body.verification, error: null });
    } catch (failure) {
      this.publish({ ...this.snapshot, error: messageOf(failure) });
    }
  }

  private async refresh(): Promise<void> {
    clearTimeout(this.timer);
    try {
      const body = await getJson<{ verification: LogVerification }>(
        this.token,
        '/v1/log/verification',
      );
      this.publish({ state: body.verification, error: null });
    } catch (failure) {
      this.publish({ ...this.snapshot, error: messageOf(failure) });
    }
  }

  private publish(next: Snapshot): void {
    this.snapshot = next;
    for (const listener of this.listeners) listener(next);
    clearTimeout(this.timer);
    if (next.state?.running) this.timer = setTimeout(() => void this.refresh(), POLL_MS);
  }
}

const messageOf = (failure: unknown): string =>
  failure instanceof Error ? failure.message : String(failure);

const store = new LogVerificationStore();

export function useLogVerification(token: string): Snapshot & { start: () => void } {
  const [snapshot, setSnapshot] = useState<Snapshot>({ state: null, error: null });
  useEffect(() => store.subscribe(token, setSnapshot), [token]);
  return { ...snapshot, start: () => void store.start() };
}
