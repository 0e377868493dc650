// Large SDKs (openai, @anthropic-ai/sdk, supabase-js, auth-js) are imported on their first use,
// not when the function starts. Loaded, they were about half of the api function's heap: a
// list of conversations never calls them, yet the heap they hold was marked again at every full
// garbage collection, and each new instance (a cold start, hosted) would load them all first.
// Each is imported with a string literal, so the deployed bundle (an eszip, which includes
// statically analysable dynamic imports) still carries it.

/** `load`'s result, made on the first call and shared after; a load that fails is tried again next time. */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    pending ??= load().catch((err) => {
      pending = undefined;
      throw err;
    });
}
