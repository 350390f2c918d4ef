/**
 * What a client's Send learns about a connection the daemon already dropped: why it ended
 * (reset by peer, refused, timed out), not an internal connection id.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Address } from "../protocol/address.ts";
import { SimNet } from "../transport/testing/sim.ts";
import type { Stream } from "../transport/stream.ts";
import type { IpcClient } from "./ipc/server.ts";
import { endedText, StreamBridge } from "./streams.ts";

class FakeClient {
  closed = false;
  closedIds: number[] = [];
  pushAccept(): void {}
  pushRecv(): Promise<boolean> {
    return Promise.resolve(true);
  }
  pushCloseOK(id: number): void {
    this.closedIds.push(id);
  }
}

function setup() {
  const net = new SimNet(1, { delayMs: 5 });
  const a = net.addNode(1), b = net.addNode(2);
  const l = b.listen(1000);
  let s: Stream | undefined;
  l.onConnection = () => s = l.accept() ?? undefined;
  const c = a.dial(new Address(0, 2), 1000);
  assert(net.run(() => c.state === "ESTABLISHED" && s !== undefined, 10_000));
  const bridge = new StreamBridge(a);
  const fake = new FakeClient();
  const client = fake as unknown as IpcClient;
  bridge.adopt(client, c);
  bridge.start(c.id);
  return { net, c, s: s!, bridge, fake, client };
}

Deno.test("streams: a Send after the peer reset the connection says 'connection reset by peer'", async () => {
  const { net, c, s, bridge, fake, client } = setup();
  s.abort();
  assert(net.run(() => fake.closedIds.includes(c.id), 1_000), "CloseOK was not pushed");
  const err = await assertRejects(() => bridge.send(client, c.id, new Uint8Array([1])), Error);
  assertEquals(err.message, "connection reset by peer");
  // An id the client never had is still "not found".
  await assertRejects(
    () => bridge.send(client, 999, new Uint8Array([1])),
    Error,
    /^connection 999 not found$/,
  );
});

Deno.test("streams: a Send on a stream that ended before its CloseOK went out says why too", async () => {
  const { c, bridge, client } = setup();
  c.abort(); // the stream is CLOSED (reason "aborted") and the pump has not run yet
  await assertRejects(() => bridge.send(client, c.id, new Uint8Array([1])), Error, /^connection closed$/);
});

Deno.test("streams: close reasons map to the words a user expects", () => {
  assertEquals(endedText("reset"), "connection reset by peer");
  assertEquals(endedText("refused"), "connection refused");
  assertEquals(endedText("timeout"), "connection timed out");
  assertEquals(endedText("dial-timeout"), "connection timed out");
  assertEquals(endedText("remote"), "connection closed by peer");
});
