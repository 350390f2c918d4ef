import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { createServer, type Socket } from "node:net";
import { bridge, type BridgeResult, type OverlayConn } from "./bridge.ts";

/** An in-memory overlay stream the test drives: `push` data, `end` it, or `reset` it. */
class FakeOverlay implements OverlayConn {
  written: Uint8Array[] = [];
  closed = false;
  aborted = false;
  #queue: (Uint8Array | null | Error)[] = [];
  #waiter?: () => void;

  push(item: Uint8Array | null | Error): void {
    this.#queue.push(item);
    this.#waiter?.();
  }
  async read(): Promise<Uint8Array | null> {
    while (this.#queue.length === 0) await new Promise<void>((r) => this.#waiter = r);
    const item = this.#queue.shift()!;
    if (item instanceof Error) throw item;
    return item;
  }
  write(data: Uint8Array): Promise<void> {
    this.written.push(data.slice());
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  abort(): void {
    this.aborted = true;
    this.push(null);
  }
  get text(): string {
    return new TextDecoder().decode(new Uint8Array(this.written.flatMap((c) => [...c])));
  }
}

/** A bridged TCP pair: the test holds the client end, the bridge the accepted end. */
async function bridged(
  overlay: FakeOverlay,
  lingerOnTcpEnd: boolean,
): Promise<{ client: Deno.TcpConn; done: Promise<BridgeResult>; close(): void }> {
  let done!: Promise<BridgeResult>;
  const server = createServer({ allowHalfOpen: true });
  const accepted = new Promise<void>((resolve) => {
    server.once("connection", (s: Socket) => {
      done = bridge(s, overlay, { bytesToOverlay: 0, bytesToTcp: 0 }, {
        lingerOnTcpEnd,
        halfCloseIdleMs: 5_000,
      });
      resolve();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  await accepted;
  return { client, done, close: () => server.close() };
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const parts: number[] = [];
  const buf = new Uint8Array(4096);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) parts.push(...buf.subarray(0, n));
  return new TextDecoder().decode(new Uint8Array(parts));
}

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("bridge: overlay data then its end reach the client, which then sees EOF", async () => {
  const o = new FakeOverlay();
  const b = await bridged(o, true);
  o.push(enc("hello "));
  o.push(enc("world"));
  o.push(null);
  assertEquals(await readAll(b.client), "hello world");
  assertEquals(await b.done, {});
  assert(o.closed && !o.aborted);
  b.client.close();
  b.close();
});

Deno.test("bridge: an overlay reset reaches the client as a TCP reset", async () => {
  const o = new FakeOverlay();
  const b = await bridged(o, true);
  o.push(enc("partial"));
  o.push(new Error("overlay stream reset"));
  await assertRejects(() => readAll(b.client), Deno.errors.ConnectionReset);
  assert((await b.done).error?.includes("reset"));
  assert(o.aborted);
  b.client.close();
  b.close();
});

Deno.test("bridge: a client that half-closes keeps the overlay open for the reply", async () => {
  const o = new FakeOverlay();
  const b = await bridged(o, true);
  await b.client.write(enc("request"));
  await b.client.closeWrite();
  await new Promise((r) => setTimeout(r, 100));
  assertEquals(o.text, "request");
  assertEquals(o.closed, false);
  o.push(enc("reply"));
  o.push(null);
  assertEquals(await readAll(b.client), "reply");
  assertEquals(await b.done, {});
  b.client.close();
  b.close();
});

Deno.test("bridge: a local service that ends closes the overlay (exposed side)", async () => {
  const o = new FakeOverlay();
  const b = await bridged(o, false);
  await b.client.write(enc("answer"));
  await b.client.closeWrite();
  assertEquals(await b.done, {});
  assertEquals(o.text, "answer");
  assert(o.closed && !o.aborted);
  b.client.close();
  b.close();
});
