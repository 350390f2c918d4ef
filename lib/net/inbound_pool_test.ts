import { assertEquals } from "../../tests/assert.ts";
import { InboundPool } from "./inbound_pool.ts";

Deno.test("InboundPool grants only what is free and hands freed bytes to queued requests in order", async () => {
  const pool = new InboundPool(100);
  assertEquals(pool.take(60), 60);
  assertEquals(pool.take(60), 40);
  assertEquals(pool.take(1), 0);
  const order: string[] = [];
  const first = pool.request(30);
  const second = pool.request(30);
  const third = pool.request(30);
  first.granted.then((n) => order.push(`first ${n}`));
  second.granted.then((n) => order.push(`second ${n}`));
  third.granted.then((n) => order.push(`third ${n}`));
  await Promise.resolve();
  assertEquals(order, [], "nothing is free yet");
  assertEquals(pool.take(1), 0, "a newcomer does not jump the queue");
  pool.adjust(-10); // 10 free: the first request gets all of it, the others keep waiting
  pool.adjust(-40); // 40 free: the second gets 30 and the third the remaining 10
  await Promise.resolve();
  assertEquals(order, ["first 10", "second 30", "third 10"]);
  assertEquals(pool.used, 100);
  assertEquals(pool.waiting, 0);
});

Deno.test("InboundPool: a cancelled request leaves the queue, and reports bytes granted before it was called off", async () => {
  const pool = new InboundPool(10);
  assertEquals(pool.take(10), 10);
  const gone = pool.request(5);
  const next = pool.request(5);
  assertEquals(gone.cancel(), 0);
  assertEquals(pool.waiting, 1);
  pool.adjust(-5);
  assertEquals(await next.granted, 5, "the freed bytes skip the cancelled request");
  const late = pool.request(5);
  pool.adjust(-5);
  assertEquals(late.cancel(), 5, "granted before the cancel: the caller gives them back");
  pool.adjust(-5);
  assertEquals(pool.used, 5);
});

Deno.test("InboundPool: a request with a least amount waits until that much is free, and those behind it wait too", async () => {
  const pool = new InboundPool(100);
  assertEquals(pool.take(70), 70);
  assertEquals(pool.take(40, 40), 0, "30 free: less than the least asked");
  const whole = pool.request(40, 40);
  const small = pool.request(5);
  const order: string[] = [];
  whole.granted.then((n) => order.push(`whole ${n}`));
  small.granted.then((n) => order.push(`small ${n}`));
  await Promise.resolve();
  assertEquals(order, [], "30 are free, but the first in line needs 40");
  pool.adjust(-10);
  await Promise.resolve();
  assertEquals(order, ["whole 40"], "40 free: the first is served whole");
  pool.adjust(-5);
  await Promise.resolve();
  assertEquals(order, ["whole 40", "small 5"]);
  assertEquals(pool.take(500, 500), 0, "a least above the pool's size is capped at it, and 100 are not free");
});
