/**
 * SIGINT / SIGTERM: the first stops taking work and lets in-flight items finish for a grace
 * period, after which they are abandoned; the journal and report are still written. A second
 * signal exits at once.
 */
export interface StopControl {
  /** Aborted on the first signal: take no more work. */
  stop: AbortSignal;
  /** Aborted when the grace period ends: abandon in-flight work. */
  abort: AbortSignal;
  /** The signal that stopped the run, if any. */
  readonly received: NodeJS.Signals | undefined;
  dispose(): void;
}

export function installSignalHandlers(opts: { graceMs: number; onStop: (signal: NodeJS.Signals) => void }): StopControl {
  const stop = new AbortController();
  const abort = new AbortController();
  let received: NodeJS.Signals | undefined;
  let timer: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    received = signal;
    opts.onStop(signal);
    stop.abort(new Error(signal));
    timer = setTimeout(() => abort.abort(new Error(signal)), opts.graceMs);
    timer.unref();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stop: stop.signal,
    abort: abort.signal,
    get received() {
      return received;
    },
    dispose() {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
