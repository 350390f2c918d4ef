/**
 * Periodic timers that fire on multiples of their period on the process's monotonic clock, so that a
 * process's periodic chores with the same period (or one a multiple of another) run in one wake-up
 * instead of one each. A wake-up is dearer than the chore: the runtime's timer wheel wakes the thread
 * about three times on the way to a 30 s deadline (docs/benchmarks.md, "Idle wake-ups"). Each process
 * has its own clock origin, so separate processes (daemons heartbeating one registry) do not fall into
 * step with each other.
 * @module
 */

/**
 * A deadline this close (or a quarter period, for short periods) is skipped for the next one:
 * timers may fire a little early, and the chore must not run twice around one boundary.
 */
export const ALIGNED_EARLY_SLACK_MS = 10;

/** The first multiple of `periodMs` more than the slack (see {@link ALIGNED_EARLY_SLACK_MS}) after `now`. */
export function nextAlignedDeadline(now: number, periodMs: number): number {
  const next = (Math.floor(now / periodMs) + 1) * periodMs;
  return next - now > Math.min(ALIGNED_EARLY_SLACK_MS, periodMs / 4) ? next : next + periodMs;
}

/** Options of {@link setAlignedInterval}. */
export interface AlignedIntervalOptions {
  /** The timer does not keep the process alive (Deno.unrefTimer). */
  unref?: boolean;
}

/**
 * Calls `fn` at every multiple of `periodMs` of the monotonic clock, from the next one on (see
 * {@link nextAlignedDeadline}). As with setInterval, `fn` must not throw. Returns a function that
 * stops it.
 */
export function setAlignedInterval(
  fn: () => void,
  periodMs: number,
  options: AlignedIntervalOptions = {},
): () => void {
  if (!(periodMs > 0 && periodMs < Infinity)) {
    throw new RangeError(`an aligned interval needs a positive, finite period, got ${periodMs}`);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const arm = () => {
    const at = performance.now();
    timer = setTimeout(tick, nextAlignedDeadline(at, periodMs) - at);
    if (options.unref) Deno.unrefTimer(timer);
  };
  const tick = () => {
    if (stopped) return;
    arm();
    fn();
  };
  arm();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
