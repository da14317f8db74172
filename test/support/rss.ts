/**
 * Runs `work` while sampling the process RSS every 2 ms; returns its result and how far the RSS
 * rose above where it was before (after a GC when the test runs with --expose-gc), in MiB.
 */
export async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; grewMb: number }> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { result, grewMb: (peak - before) / (1024 * 1024) };
}
