import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { startTimerLoop, taskClock, TimerQueue, type TimerTarget } from "./timers.ts";

function recorder(log: string[], name: string): TimerTarget {
  return { onTimer: (now) => log.push(`${name}@${now}`) };
}

Deno.test("timers: fires in deadline order, replaced and cancelled deadlines are skipped", () => {
  let now = 0;
  const q = new TimerQueue(() => now);
  const log: string[] = [];
  const a = recorder(log, "a"), b = recorder(log, "b"), c = recorder(log, "c");
  q.schedule(a, 30);
  q.schedule(b, 10);
  q.schedule(c, 20);
  q.schedule(a, 5); // replaces 30
  q.cancel(c);
  assertEquals(q.nextDeadline(), 5);
  now = 100;
  q.runDue();
  assertEquals(log, ["a@100", "b@100"]);
  assertEquals(q.nextDeadline(), undefined);
  assertEquals(q.size, 0);
});

Deno.test("timers: a target may reschedule itself from onTimer", () => {
  let now = 0;
  const q = new TimerQueue(() => now);
  let fired = 0;
  const t: TimerTarget = {
    onTimer: (at) => {
      fired++;
      if (fired < 3) q.schedule(t, at + 10);
    },
  };
  q.schedule(t, 10);
  for (now = 0; now <= 100; now += 5) q.runDue();
  assertEquals(fired, 3);
});

Deno.test("timers: onEarlier reports only deadlines that become the earliest", () => {
  const seen: number[] = [];
  const q = new TimerQueue(() => 0, (at) => seen.push(at));
  const t1 = recorder([], "1"), t2 = recorder([], "2");
  q.schedule(t1, 50);
  q.schedule(t2, 70);
  q.schedule(t2, 20);
  assertEquals(seen, [50, 20]);
});

Deno.test("timers: onLater reports only postponed and cancelled deadlines", () => {
  let later = 0;
  const q = new TimerQueue(() => 0, undefined, () => later++);
  const t = recorder([], "t");
  q.schedule(t, 50); // new
  q.schedule(t, 50); // unchanged
  q.schedule(t, 20); // earlier
  assertEquals(later, 0);
  q.schedule(t, 80); // postponed
  assertEquals(later, 1);
  q.cancel(t);
  q.cancel(t); // nothing left to cancel
  assertEquals(later, 2);
});

Deno.test("timers: heap order matches a sorted model", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 1000 }))),
      (ops) => {
        const q = new TimerQueue(() => 0);
        const targets = Array.from({ length: 20 }, (_, i) => ({
          i,
          onTimer: () => fired.push(i),
        }));
        const fired: number[] = [];
        const model = new Map<number, number>();
        for (const [i, at] of ops) {
          q.schedule(targets[i], at);
          model.set(i, at);
        }
        q.runDue(1000);
        const expected = [...model.entries()].sort((x, y) => x[1] - y[1]).map(([i]) => i);
        assertEquals(fired.map((i) => model.get(i)), expected.map((i) => model.get(i)));
        assertEquals(new Set(fired), new Set(expected));
      },
    ),
  );
});

Deno.test("timers: startTimerLoop drives a queue with real time", async () => {
  const q = new TimerQueue(() => performance.now());
  const done = Promise.withResolvers<number>();
  const start = performance.now();
  const stop = startTimerLoop(q);
  q.schedule({ onTimer: () => {} }, start + 200); // later one first...
  q.schedule({ onTimer: (now) => done.resolve(now) }, start + 20); // ...then an earlier one re-arms
  const firedAt = await done.promise;
  stop();
  assert(firedAt - start >= 19 && firedAt - start < 150, `fired after ${firedAt - start} ms`);
});

Deno.test("timers: startTimerLoop does not wake for postponed or cancelled deadlines", async () => {
  const q = new TimerQueue(() => performance.now());
  const wakeUps: number[] = [];
  const runDue = q.runDue.bind(q);
  q.runDue = (now?: number) => {
    wakeUps.push(performance.now());
    runDue(now);
  };
  const stop = startTimerLoop(q);
  try {
    const start = performance.now();
    const done = Promise.withResolvers<number>();
    const postponed = { onTimer: (now: number) => done.resolve(now) };
    const cancelled = { onTimer: () => {} };
    q.schedule(postponed, start + 20);
    q.schedule(cancelled, start + 10);
    q.cancel(cancelled); // as a connection that closed
    q.schedule(postponed, start + 150); // as an ACK that moved a retransmission deadline on
    const firedAt = await done.promise;
    assert(firedAt - start >= 149, `fired after ${firedAt - start} ms, before its postponed deadline`);
    // No wake-up at +10 or +20 ms (a timer may fire up to a millisecond early, then once more).
    const early = wakeUps.map((t) => t - start).filter((t) => t < 140);
    assertEquals(early, []);
  } finally {
    stop();
  }
});

Deno.test("taskClock reads the clock once per task and again after the microtasks ran", async () => {
  let reads = 0;
  const clock = taskClock(() => ++reads * 10);
  assertEquals([clock(), clock(), clock()], [10, 10, 10]);
  await Promise.resolve();
  assertEquals([clock(), clock()], [20, 20]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals([clock(), reads], [30, 3]);
});
