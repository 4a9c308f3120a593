/**
 * A signal of its own for one request, aborted when `parent` is, and unlinked by `release()`. undici's fetch leaves
 * its abort listener on the signal it was given until that signal is collected, so thousands of requests sharing one
 * signal piled up thousands of listeners on it (each add is a linear scan, and past 1,500 a warning each).
 */
export function linkedSignal(parent: AbortSignal): { signal: AbortSignal; release(): void } {
  const own = new AbortController();
  if (parent.aborted) {
    own.abort(parent.reason);
    return { signal: own.signal, release: () => {} };
  }
  const onAbort = () => own.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return { signal: own.signal, release: () => parent.removeEventListener('abort', onAbort) };
}
