/**
 * Waits for a condition instead of for a while: polls `condition` every `intervalMs` (default
 * 20 ms) until it returns true, and fails after `timeoutMs` (default 10 s) with an error naming
 * `what`. A test never sleeps a fixed time hoping that something has happened by then.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  opts: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}
