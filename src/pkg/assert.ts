/**
 * Programmer-error assertions. A failed assertion means the code is wrong, not the input: it is
 * never caught and never turned into a wire error.
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

/** Throws an AssertionError with `why` when `cond` is false. */
export function assert(cond: unknown, why: string): asserts cond {
  if (!cond) throw new AssertionError(why);
}

/** Marks a branch the type checker proves unreachable; throws if it is reached anyway. */
export function unreachable(value: never, why = 'unreachable'): never {
  throw new AssertionError(`${why}: ${String(value)}`);
}
