/** The error `fn` throws, or undefined when it returns: for asserting an error's fields. */
export function errorOf(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
