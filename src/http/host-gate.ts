/**
 * Host-wide pacing. A 429 or Retry-After from one request pauses every request to that host
 * (renovate `queue.ts`, regclient `reghttp`), and an optional requests-per-second cap spreads
 * requests for registries with quotas (ACR, Docker Hub). Concurrency itself is bounded by the
 * connection limit of the host's undici pool.
 */
export class HostGate {
  private pausedUntil = 0;
  private readonly intervalMs: number;
  private nextSlot = 0;

  constructor(readonly host: string, requestsPerSecond?: number) {
    this.intervalMs = requestsPerSecond && requestsPerSecond > 0 ? 1000 / requestsPerSecond : 0;
  }

  /** Wait until this host may receive another request. */
  async pass(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      let wait = this.pausedUntil - now;
      if (wait <= 0 && this.intervalMs > 0) {
        const slot = Math.max(now, this.nextSlot);
        this.nextSlot = slot + this.intervalMs;
        wait = slot - now;
        if (wait <= 0) return;
        await sleep(wait, signal);
        return;
      }
      if (wait <= 0) return;
      await sleep(wait, signal);
    }
  }

  /** Hold back every request to this host for `ms`; returns how much longer the host is now paused (0 when it already was for longer). */
  pause(ms: number): number {
    const now = Date.now();
    const before = Math.max(this.pausedUntil, now);
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
    return this.pausedUntil - before;
  }

  get pausedMs(): number {
    return Math.max(0, this.pausedUntil - Date.now());
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
