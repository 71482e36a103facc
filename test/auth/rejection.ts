import { expect } from 'vitest';
import { ChartMirrorError } from '../../src/errors.js';

/** The ChartMirrorError a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<ChartMirrorError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ChartMirrorError);
    return e as ChartMirrorError;
  }
  throw new Error('expected a rejection');
}
