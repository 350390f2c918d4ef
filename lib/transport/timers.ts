/**
 * Timer scheduling for the session layer without one OS timer per connection
 * or per segment. Each target (a connection, the manager's sweep, a pending
 * ping) has at most one live deadline; a binary heap orders them and the host
 * keeps a single OS timer armed for the earliest. Connections re-arm lazily:
 * they only ask for an earlier wake-up, and recompute what is due when woken
 * (except when entering TIME_WAIT, whose one deadline replaces all others).
 * @module
 */

/** Something that wants to be woken. */
export interface TimerTarget {
  /** Called once at or after the scheduled time; `now` is the clock reading. */
  onTimer(now: number): void;
}

/**
 * What the session layer needs from its host for time: a monotonic clock in
 * milliseconds and a way to be woken. `schedule` replaces the target's previous
 * deadline; `cancel` removes it.
 */
export interface TimerService {
  now(): number;
  schedule(target: TimerTarget, at: number): void;
  cancel(target: TimerTarget): void;
}

interface Entry {
  at: number;
  target: TimerTarget;
}

/**
 * A heap of deadlines driven by an injected clock. The host calls
 * {@link TimerQueue.runDue} when {@link TimerQueue.nextDeadline} has passed;
 * `onEarlier` tells it when a new deadline became the earliest so it can
 * re-arm its one OS timer (see {@link startTimerLoop}). Replaced deadlines
 * stay in the heap and are skipped when popped.
 */
export class TimerQueue implements TimerService {
  private heap: Entry[] = [];
  private due = new Map<TimerTarget, number>();

  constructor(
    private readonly clock: () => number,
    /** Called with the new earliest deadline whenever a schedule() makes it earlier. */
    public onEarlier?: (at: number) => void,
    /**
     * Called whenever a deadline is postponed or cancelled, so the earliest may now be later than the
     * host's timer: the host can re-arm instead of waking for nothing.
     */
    public onLater?: () => void,
  ) {}

  now(): number {
    return this.clock();
  }

  schedule(target: TimerTarget, at: number): void {
    const previous = this.due.get(target);
    if (previous === at) return;
    this.due.set(target, at);
    if (previous !== undefined && at > previous) this.onLater?.();
    const earliest = this.heap.length > 0 ? this.heap[0].at : Infinity;
    this.pushEntry({ at, target });
    if (at < earliest) this.onEarlier?.(at);
  }

  cancel(target: TimerTarget): void {
    if (this.due.delete(target)) this.onLater?.();
  }

  /** Number of targets with a live deadline. */
  get size(): number {
    return this.due.size;
  }

  /** The earliest live deadline, or undefined when nothing is scheduled. */
  nextDeadline(): number | undefined {
    this.dropStale();
    return this.heap.length > 0 ? this.heap[0].at : undefined;
  }

  /**
   * Fires every target whose deadline is ≤ `now` (default: the clock), earliest
   * first. Deadlines set while firing wait for the next call, so a target that
   * keeps asking for "now" cannot trap the caller in a loop.
   */
  runDue(now: number = this.clock()): void {
    const fire: TimerTarget[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) break;
      this.popEntry();
      this.due.delete(top.target);
      fire.push(top.target);
    }
    for (const t of fire) t.onTimer(now);
  }

  private dropStale(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (this.due.get(top.target) === top.at) return;
      this.popEntry();
    }
  }

  private pushEntry(e: Entry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].at <= e.at) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  private popEntry(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r].at < h[l].at ? r : l;
      if (h[c].at >= last.at) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
}

/**
 * A clock for {@link TimerQueue} that reads `read` at most once per task: the first call reads
 * it, and later calls return the same value until the microtasks queued by then have run. The
 * stream machinery asks for the time several times per packet (on receipt, per packet sent, when
 * re-arming its timer), and each `performance.now()` is a runtime op call; this way a whole batch
 * of packets handled in one task costs one read. Time stands still within the task (at most the
 * few ms a full batch takes), as one timestamp per batch does in kernel TCP stacks.
 */
export function taskClock(read: () => number = () => performance.now()): () => number {
  let cached = 0;
  let valid = false;
  const expire = () => valid = false;
  return () => {
    if (!valid) {
      cached = read();
      valid = true;
      queueMicrotask(expire);
    }
    return cached;
  };
}

/**
 * How much later than the armed timer the earliest deadline must have moved before the timer is
 * re-armed for it. Below this, waking a little early and re-arming then is cheaper than re-arming
 * each time a busy connection pushes its retransmission deadline on by a fraction of a millisecond.
 */
export const TIMER_POSTPONE_SLACK_MS = 10;

/**
 * Drives `queue` from the host's event loop with a single `setTimeout`, re-armed
 * for the earliest deadline. Returns a function that stops it. This is the only
 * place the session layer touches real timers; tests drive a TimerQueue with a
 * fake clock instead.
 *
 * When deadlines are postponed or cancelled (a connection entering TIME_WAIT or closed), the timer
 * is moved to the new earliest deadline once the current task's microtasks have run, so an idle
 * daemon is not woken for deadlines that no longer exist.
 */
export function startTimerLoop(queue: TimerQueue): () => void {
  let handle: ReturnType<typeof setTimeout> | undefined;
  let armedAt = Infinity;
  let stopped = false;
  let recheckQueued = false;
  const disarm = () => {
    if (handle !== undefined) clearTimeout(handle);
    handle = undefined;
    armedAt = Infinity;
  };
  const arm = (at: number) => {
    if (stopped || (handle !== undefined && armedAt <= at)) return;
    if (handle !== undefined) clearTimeout(handle);
    armedAt = at;
    handle = setTimeout(fire, Math.max(0, at - queue.now()));
  };
  const fire = () => {
    handle = undefined;
    armedAt = Infinity;
    queue.runDue();
    const next = queue.nextDeadline();
    if (next !== undefined) arm(next);
  };
  const recheck = () => {
    recheckQueued = false;
    if (stopped || handle === undefined) return;
    const next = queue.nextDeadline();
    if (next !== undefined && next <= armedAt + TIMER_POSTPONE_SLACK_MS) return;
    disarm();
    if (next !== undefined) arm(next);
  };
  queue.onEarlier = arm;
  queue.onLater = () => {
    if (recheckQueued || handle === undefined) return;
    recheckQueued = true;
    queueMicrotask(recheck);
  };
  const first = queue.nextDeadline();
  if (first !== undefined) arm(first);
  return () => {
    stopped = true;
    queue.onEarlier = undefined;
    queue.onLater = undefined;
    disarm();
  };
}
