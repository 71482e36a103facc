/**
 * A budget of bytes shared by all work in flight (chart archives held in memory while they are
 * verified and pushed), so memory is bounded by bytes, not only by a count of items: sixteen
 * 200 MB archives wait for each other instead of taking 3 GB together.
 *
 * Each item holds a lease. Its first reservation waits, in arrival order, until it fits (a
 * reservation larger than the whole budget waits until nothing else is held, then goes alone);
 * later reservations of a lease that already holds bytes never wait (a body of unknown length
 * grows), so two items can never wait on each other.
 */
import { ChartMirrorError } from '../errors.js';

export class ByteBudget {
  private used = 0;
  private readonly queue: { bytes: number; go: () => void }[] = [];

  constructor(readonly total: number) {}

  get inUse(): number {
    return this.used;
  }

  lease(): BudgetLease {
    return new BudgetLease(this);
  }

  /** @internal */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.queue.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const entry = { bytes, go: () => resolve() };
      this.queue.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(entry);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason instanceof Error ? signal.reason : new ChartMirrorError('ABORTED', 'interrupted while waiting for memory'));
          this.wake();
        },
        { once: true },
      );
    });
  }

  /** @internal Bytes taken without waiting (a lease that already holds some). */
  force(bytes: number): void {
    this.used += bytes;
  }

  /** @internal */
  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.wake();
  }

  private fits(bytes: number): boolean {
    return this.used + bytes <= this.total || this.used === 0;
  }

  private wake(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.bytes)) {
      const next = this.queue.shift()!;
      this.used += next.bytes;
      next.go();
    }
  }
}

export class BudgetLease {
  private held = 0;
  private released = false;

  constructor(private readonly budget: ByteBudget) {}

  get bytes(): number {
    return this.held;
  }

  /** Hold `bytes` more: waits for room only when this lease holds nothing yet. */
  async reserve(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.released || bytes <= 0) return;
    if (this.held === 0) await this.budget.take(bytes, signal);
    else this.budget.force(bytes);
    if (this.released) {
      this.budget.give(bytes); // released while waiting
      return;
    }
    this.held += bytes;
  }

  /** Hold at least `bytes` in all (a retried download does not count twice). */
  ensure(bytes: number, signal?: AbortSignal): Promise<void> {
    return this.reserve(bytes - this.held, signal);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.held);
    this.held = 0;
  }
}
