import { expect } from 'vitest';

/** The error `promise` rejects with, which must be a `type`; the test fails if it resolves. */
export async function rejection<T extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  const err = await promise.then(
    (value) => {
      throw new Error(
        `expected a rejection, it returned ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as T;
}
