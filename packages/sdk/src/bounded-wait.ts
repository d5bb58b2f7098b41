/**
 * `work`, waited for at most `ms`: resolves when it settles or when `ms` has passed, whichever
 * comes first. For an exporter's forceFlush and shutdown, which wait for every export in flight:
 * against a collector that accepts the connection and never answers they waited out the
 * exporter's own request timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default) whatever the
 * signal's export timeout said, and an app flushing per request (serverless) hung that long.
 * The export itself goes on in the background, bounded by the exporter's timeout, and its failure
 * is still reported (safe-processors.ts safeExport). A rejection of `work` is passed on while it
 * is waited for; one after `ms` is dropped (nobody waits for it any more). The timer is unref'd.
 */
export function boundedWait(
  work: Promise<void> | undefined,
  ms: number | undefined,
): Promise<void> | undefined {
  if (work === undefined || ms === undefined) return work;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
