import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/util/byte-budget.js';

describe('the in-flight byte budget', () => {
  it('a first reservation waits until it fits, in arrival order; release lets the next in', async () => {
    const b = new ByteBudget(100);
    const a = b.lease();
    await a.reserve(80);
    const order: string[] = [];
    const big = b.lease();
    const small = b.lease();
    const pBig = big.reserve(50).then(() => order.push('big'));
    const pSmall = small.reserve(10).then(() => order.push('small'));
    await new Promise((r) => setTimeout(r, 10));
    // small would fit (80 + 10), but big came first: no overtaking, so big cannot starve.
    expect(order).toEqual([]);
    a.release();
    await Promise.all([pBig, pSmall]);
    expect(order).toEqual(['big', 'small']);
    expect(b.inUse).toBe(60);
  });

  it('more than the whole budget goes alone; a lease that holds bytes grows without waiting', async () => {
    const b = new ByteBudget(100);
    const huge = b.lease();
    await huge.reserve(500);
    expect(b.inUse).toBe(500);
    const next = b.lease();
    let got = false;
    const p = next.reserve(1).then(() => (got = true));
    await huge.reserve(10); // grows past the budget: never waits, so two items never wait on each other
    expect(got).toBe(false);
    huge.release();
    await p;
    expect(b.inUse).toBe(1);
  });

  it('ensure does not count a retried download twice; an aborted wait gives up its place', async () => {
    const b = new ByteBudget(100);
    const l = b.lease();
    await l.ensure(40);
    await l.ensure(40);
    expect(b.inUse).toBe(40);
    const blocker = b.lease();
    await blocker.reserve(60);
    const ac = new AbortController();
    const waiting = b.lease().reserve(50, ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    l.release();
    blocker.release();
    expect(b.inUse).toBe(0);
  });
});
