import { assert, assertEquals } from "../../../tests/assert.ts";
import { Logger } from "../../log.ts";
import { backoffDelay, DeliveryError, DeliveryQueue } from "./queue.ts";

const quiet = new Logger("test", "silent");

function queue(
  deliver: (batch: number[]) => Promise<void>,
  over: Partial<{ capacity: number; maxAttempts: number }> = {},
) {
  const given: number[][] = [];
  const q = new DeliveryQueue<number>({
    name: "t",
    capacity: over.capacity ?? 10,
    batchSize: 4,
    maxAttempts: over.maxAttempts ?? 4,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    deliver,
    onGiveUp: (b) => given.push(b),
    logger: quiet,
  });
  return { q, given };
}

async function drained(q: DeliveryQueue<number>): Promise<void> {
  for (let i = 0; i < 500 && q.busy; i++) await new Promise((r) => setTimeout(r, 10));
  assert(!q.busy, "queue did not drain");
}

Deno.test("backoff doubles from the base, capped, with bounded jitter", () => {
  const mid = () => 0.5;
  assertEquals([2, 3, 4, 5, 9].map((a) => backoffDelay(a, 100, 1000, mid)), [100, 200, 400, 800, 1000]);
  assertEquals(backoffDelay(2, 100, 1000, () => 0), 75);
  assertEquals(backoffDelay(2, 100, 1000, () => 0.999), 125);
});

Deno.test("push never waits for delivery; a full queue drops and counts", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const seen: number[] = [];
  const { q } = queue(async (b) => {
    await gate;
    seen.push(...b);
  }, { capacity: 5 });
  const results = Array.from({ length: 8 }, (_, i) => q.push(i));
  assertEquals(results, [true, true, true, true, true, false, false, false]);
  assertEquals(q.stats.dropped, 3);
  release();
  await drained(q);
  assertEquals(seen, [0, 1, 2, 3, 4]);
  assertEquals(q.stats.delivered, 5);
});

Deno.test("failures are retried until they succeed; permanent ones and the last attempt give up", async () => {
  let calls = 0;
  const a = queue(() => ++calls <= 2 ? Promise.reject(new Error("down")) : Promise.resolve());
  a.q.push(1);
  await drained(a.q);
  assertEquals([calls, a.q.stats.retried, a.q.stats.delivered, a.q.stats.failed], [3, 2, 1, 0]);

  const b = queue(() => Promise.reject(new DeliveryError("status 400", true)));
  b.q.push(7);
  await drained(b.q);
  assertEquals([b.q.stats.retried, b.q.stats.failed, b.given], [0, 1, [[7]]]);

  const c = queue(() => Promise.reject(new Error("down")), { maxAttempts: 3 });
  c.q.push(9);
  await drained(c.q);
  assertEquals([c.q.stats.retried, c.q.stats.failed, c.given], [2, 1, [[9]]]);
});
