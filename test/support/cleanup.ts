/**
 * Synchronous clean-up at process exit (best effort): child processes are killed first, then
 * temporary directories are removed. Runs on 'exit' and on SIGINT/SIGTERM/SIGHUP, after which the
 * signal is re-raised when nobody else handles it, so the process still dies as it would have.
 */
type Phase = 'processes' | 'files';

const hooks: Record<Phase, Set<() => void>> = { processes: new Set(), files: new Set() };
let installed = false;
let ran = false;

function runAll(): void {
  if (ran) return;
  ran = true;
  for (const phase of ['processes', 'files'] as const) {
    for (const hook of hooks[phase]) {
      try {
        hook();
      } catch {
        // best effort: one failing hook must not stop the others
      }
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      runAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, handler);
  }
}

/** Registers a synchronous hook; returns a function that unregisters it. */
export function onExit(phase: Phase, hook: () => void): () => void {
  install();
  hooks[phase].add(hook);
  return () => {
    hooks[phase].delete(hook);
  };
}
