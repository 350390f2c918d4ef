import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Logger } from "../../lib/log.ts";
import { Address } from "../../lib/protocol/address.ts";
import { StreamIoError } from "../../lib/services/byte_stream.ts";
import { memoryStreamPair } from "../../lib/services/testing/memory_stream.ts";
import {
  EventBroker,
  PUBLISH_BURST,
  SUBSCRIBER_BACKLOG_BYTES,
} from "../../lib/services/eventstream/broker.ts";
import { EventSubscription } from "../../lib/sdk/services/eventstream.ts";
import { MAX_EVENT_PAYLOAD } from "../../lib/services/eventstream/codec.ts";
import { settleQuietly } from "../../lib/errors.ts";

const quiet = new Logger("test", "silent");
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function harness(now?: () => number) {
  const events: [string, Record<string, unknown>][] = [];
  const broker = new EventBroker({ log: quiet, emit: (e, d) => events.push([e, d]), now });
  const handles: Promise<void>[] = [];
  let node = 10;
  const join = async (topic: string) => {
    const { a, b } = memoryStreamPair({ chunkSize: 7, bRemote: new Address(0, node++) });
    handles.push(settleQuietly(broker.handle(b), "expected in test"));
    return await EventSubscription.subscribe(a, topic);
  };
  /** Resolves once the broker has registered `n` subscriptions. */
  const settle = async (n: number) => {
    for (let i = 0; i < 100 && broker.subscriberCount < n; i++) await new Promise((r) => setTimeout(r, 1));
    assertEquals(broker.subscriberCount, n);
  };
  return { broker, events, join, settle, done: () => Promise.all(handles) };
}

Deno.test("publishes reach exact-topic and wildcard subscribers, never the publisher", async () => {
  const h = harness();
  const news = await h.join("news");
  const all = await h.join("*");
  const sport = await h.join("sport");
  const pub = await h.join("news");
  await h.settle(4);
  await pub.publish("news", "headline");
  const got = await news.next({ timeoutMs: 1000 });
  assertEquals(got?.topic, "news");
  assertEquals(text(got!.payload), "headline");
  assertEquals(text((await all.next({ timeoutMs: 1000 }))!.payload), "headline");
  await assertRejects(() => sport.next({ timeoutMs: 50 }), StreamIoError);
  await assertRejects(() => pub.next({ timeoutMs: 50 }), StreamIoError);
  // A publish to "*" itself goes to "*" subscribers once, not twice.
  await news.publish("*", "to-all");
  assertEquals(text((await all.next({ timeoutMs: 1000 }))!.payload), "to-all");
  await assertRejects(() => all.next({ timeoutMs: 50 }), StreamIoError);
  for (const s of [news, all, sport, pub]) await s.close();
  await h.done();
  assertEquals(h.broker.subscriberCount, 0);
  const names = h.events.map(([e]) => e);
  assertEquals(names.filter((e) => e === "pubsub.subscribed").length, 4);
  assertEquals(names.filter((e) => e === "pubsub.unsubscribed").length, 4);
  assertEquals(names.filter((e) => e === "pubsub.published").length, 2);
  const published = h.events.find(([e]) => e === "pubsub.published")![1];
  assertEquals(published.topic, "news");
  assertEquals(published.size, 8);
  assert(/^0:0000\.0000\.000D:49153$/.test(String(published.from)), String(published.from));
});

Deno.test("a connection over its publish rate has the excess dropped", async () => {
  let clock = 0;
  const h = harness(() => clock);
  const sink = await h.join("t");
  const pub = await h.join("t");
  await h.settle(2);
  for (let i = 0; i < PUBLISH_BURST + 10; i++) await pub.publish("t", String(i));
  for (let i = 0; i < PUBLISH_BURST; i++) {
    assertEquals(text((await sink.next({ timeoutMs: 1000 }))!.payload), String(i));
  }
  await assertRejects(() => sink.next({ timeoutMs: 50 }), StreamIoError);
  assertEquals(h.broker.stats.rateLimited, 10);
  clock += 1000; // a second later the bucket has refilled
  await pub.publish("t", "again");
  assertEquals(text((await sink.next({ timeoutMs: 1000 }))!.payload), "again");
  await sink.close();
  await pub.close();
  await h.done();
});

Deno.test("an oversized event drops only its own connection", async () => {
  const h = harness();
  const sink = await h.join("t");
  const { a, b } = memoryStreamPair();
  const bad = h.broker.handle(b);
  await EventSubscription.subscribe(a, "t");
  await h.settle(2);
  const header = new Uint8Array([0, 1, 0x74, 0, 0, 0, 0]);
  new DataView(header.buffer).setUint32(3, MAX_EVENT_PAYLOAD + 1);
  await a.write(header);
  await assertRejects(() => bad, Error, /exceeds/);
  assertEquals(await a.read(), null);
  const pub = await h.join("x");
  await pub.publish("t", "fine");
  assertEquals(text((await sink.next({ timeoutMs: 1000 }))!.payload), "fine");
  await sink.close();
  await pub.close();
  await h.done();
});

Deno.test("locally published events fan out too", async () => {
  const h = harness();
  const sub = await h.join("local");
  await h.settle(1);
  assertEquals(h.broker.publish({ topic: "local", payload: new Uint8Array([1]) }), 1);
  assertEquals((await sub.next({ timeoutMs: 1000 }))!.payload, new Uint8Array([1]));
  await sub.close();
  await h.done();
});

Deno.test("a subscriber that stops taking data is dropped once its backlog passes the limit", async () => {
  const h = harness();
  const { a, b } = memoryStreamPair();
  let closed = false;
  const stalled = {
    ...b,
    write: () => new Promise<void>(() => {}), // never drains
    close: () => {
      closed = true;
      return b.close();
    },
  };
  const handled = settleQuietly(h.broker.handle(stalled), "expected in test");
  await EventSubscription.subscribe(a, "big");
  await h.settle(1);
  const payload = new Uint8Array(10 << 20);
  assertEquals(SUBSCRIBER_BACKLOG_BYTES, 32 << 20);
  for (let i = 0; i < 3; i++) assertEquals(h.broker.publish({ topic: "big", payload }), 1);
  assertEquals(h.broker.publish({ topic: "big", payload }), 0); // 40 MiB would be queued
  assertEquals(h.broker.stats.slowDropped, 1);
  assertEquals(h.broker.subscriberCount, 0);
  assert(closed);
  await handled;
});

Deno.test("a subscriber whose writes fail is removed once and later events skip it", async () => {
  const h = harness();
  const { a, b } = memoryStreamPair();
  let writes = 0;
  const broken = {
    ...b,
    write: () => {
      writes++;
      return Promise.reject(new Error("gone"));
    },
  };
  const handled = settleQuietly(h.broker.handle(broken), "expected in test");
  await EventSubscription.subscribe(a, "t");
  await h.settle(1);
  h.broker.publish({ topic: "t", payload: new Uint8Array(1) });
  h.broker.publish({ topic: "t", payload: new Uint8Array(1) });
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(writes, 1);
  assertEquals(h.broker.subscriberCount, 0);
  assertEquals(h.broker.publish({ topic: "t", payload: new Uint8Array(1) }), 0);
  await a.close();
  await handled;
});
