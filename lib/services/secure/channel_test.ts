import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { generateEd25519KeyPair } from "../../crypto/ed25519.ts";
import type { ByteStream } from "../byte_stream.ts";
import { memoryStreamPair } from "../testing/memory_stream.ts";
import { AuthNonceCache, createAuthMessage, SecureAuthError, verifyAuthMessage } from "./auth.ts";
import { SecureChannel, type SecureHandshakeOptions } from "./channel.ts";
import { MAX_FRAME_PLAINTEXT, SecureChannelError } from "./codec.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function pair(
  clientOpts: SecureHandshakeOptions = {},
  serverOpts: SecureHandshakeOptions = {},
  chunkSize?: number,
): Promise<{ client: SecureChannel; server: SecureChannel; rawA: ByteStream; rawB: ByteStream }> {
  const { a, b } = memoryStreamPair({ chunkSize });
  const [client, server] = await Promise.all([
    SecureChannel.client(a, clientOpts),
    SecureChannel.server(b, serverOpts),
  ]);
  return { client, server, rawA: a, rawB: b };
}

Deno.test("key exchange, then data both ways, split across any chunking", async () => {
  const { client, server } = await pair({}, {}, 5);
  await client.write(enc("hello server"));
  assertEquals(new TextDecoder().decode((await server.read())!), "hello server");
  await server.write(enc("hello client"));
  assertEquals(new TextDecoder().decode((await client.read())!), "hello client");
  assertEquals(client.role, "client");
  assertEquals(server.role, "server");
  assertEquals(client.peerNodeId, undefined);
  await client.close();
  assertEquals(await server.read(), null);
});

Deno.test("the wire carries the key exchange then role-prefixed sealed frames, never plaintext", async () => {
  const { a, b } = memoryStreamPair();
  const seen: Uint8Array[] = [];
  const tapped: ByteStream = { ...a, write: (d, o) => (seen.push(d.slice()), a.write(d, o)) };
  const [client, server] = await Promise.all([SecureChannel.client(tapped), SecureChannel.server(b)]);
  await client.write(enc("secret-secret"));
  await client.write(enc("again"));
  await server.read();
  assertEquals(seen[0].length, 32); // our ephemeral X25519 key
  const frame = seen[1];
  assertEquals(new DataView(frame.buffer).getUint32(0), 12 + 13 + 16);
  assertEquals([...frame.subarray(4, 8)], [0, 0, 0, 2]); // client role prefix
  assertEquals(new DataView(frame.buffer).getBigUint64(8), 1n); // first counter is 1
  assertEquals(new DataView(seen[2].buffer).getBigUint64(8), 2n);
  assert(!new TextDecoder().decode(frame).includes("secret"));
  await client.close();
});

Deno.test("Web Streams duplex: pipe through the channel", async () => {
  const { client, server } = await pair();
  const writer = client.writable.getWriter();
  await writer.write(enc("a"));
  await writer.write(enc("b"));
  await writer.close();
  const reader = server.readable.getReader();
  assertEquals(new TextDecoder().decode((await reader.read()).value!), "a");
  assertEquals(new TextDecoder().decode((await reader.read()).value!), "b");
  await client.close();
  assertEquals((await reader.read()).done, true);
});

Deno.test("large writes are split into frames under the 16 MiB limit", async () => {
  const { client, server } = await pair();
  const big = new Uint8Array(MAX_FRAME_PLAINTEXT + 1000).map((_, i) => i);
  const writing = client.write(big);
  const first = (await server.read())!;
  const second = (await server.read())!;
  await writing;
  assertEquals(first.length, MAX_FRAME_PLAINTEXT);
  assertEquals(second.length, 1000);
  assertEquals(second[999], (MAX_FRAME_PLAINTEXT + 999) & 0xff);
  await client.close();
});

Deno.test("a tampered frame ends the channel with SecureChannelError", async () => {
  const { a, b } = memoryStreamPair();
  let flip = false;
  const evil: ByteStream = {
    ...a,
    write: (d, o) => {
      if (flip) d = d.slice(), d[d.length - 1] ^= 1;
      return a.write(d, o);
    },
  };
  const [client, server] = await Promise.all([SecureChannel.client(evil), SecureChannel.server(b)]);
  flip = true;
  await client.write(enc("x"));
  await assertRejects(() => server.read(), SecureChannelError, /refused/);
  await assertRejects(() => server.write(enc("y")), SecureChannelError);
});

Deno.test("a reflected frame (our own, sent back) is refused", async () => {
  const { a, b } = memoryStreamPair();
  const sent: Uint8Array[] = [];
  const tap: ByteStream = { ...b, write: (d, o) => (sent.push(d.slice()), b.write(d, o)) };
  const [client, server] = await Promise.all([SecureChannel.client(a), SecureChannel.server(tap)]);
  await server.write(enc("to client"));
  assertEquals(new TextDecoder().decode((await client.read())!), "to client");
  await a.write(sent[1]); // the server's own frame arrives at the server
  await assertRejects(() => server.read(), SecureChannelError, /role prefix/);
});

Deno.test("a low-order peer key or a stalled peer fails the handshake", async () => {
  const { a, b } = memoryStreamPair();
  const server = SecureChannel.server(b);
  await a.write(new Uint8Array(32)); // the all-zero point
  await assertRejects(() => server, SecureChannelError, /X25519/);
  const stalled = memoryStreamPair();
  await assertRejects(
    () => SecureChannel.server(stalled.b, { timeoutMs: 30 }),
    SecureChannelError,
    /timed out/,
  );
});

Deno.test("mutual authentication yields each peer's node id", async () => {
  const alice = generateEd25519KeyPair();
  const bob = generateEd25519KeyPair();
  const keys = new Map([[7, alice.publicKey], [8, bob.publicKey]]);
  const lookup = (id: number) => keys.get(id);
  const cache = new AuthNonceCache();
  const { client, server } = await pair(
    { auth: { identity: { nodeId: 7, seed: alice.seed }, lookup, expectedNodeId: 8, nonceCache: cache } },
    { auth: { identity: { nodeId: 8, seed: bob.seed }, lookup, nonceCache: cache } },
  );
  assertEquals(client.peerNodeId, 8);
  assertEquals(server.peerNodeId, 7);
  await client.write(enc("authenticated"));
  assertEquals(new TextDecoder().decode((await server.read())!), "authenticated");
  await client.close();
});

Deno.test("authentication fails for the wrong node, an unknown key or a forged identity", async () => {
  const alice = generateEd25519KeyPair();
  const bob = generateEd25519KeyPair();
  const mallory = generateEd25519KeyPair();
  const keys = new Map([[7, alice.publicKey], [8, bob.publicKey]]);
  const lookup = (id: number) => keys.get(id);
  const run = (clientId: number, clientSeed: Uint8Array, expected?: number) => {
    const { a, b } = memoryStreamPair();
    return Promise.allSettled([
      SecureChannel.client(a, {
        auth: { identity: { nodeId: clientId, seed: clientSeed }, lookup, expectedNodeId: expected },
      }),
      SecureChannel.server(b, { auth: { identity: { nodeId: 8, seed: bob.seed }, lookup } }),
    ]);
  };
  // The client expected node 9 but reached node 8.
  let [c, s] = await run(7, alice.seed, 9);
  assert(c.status === "rejected" && c.reason instanceof SecureAuthError);
  assert(s.status === "rejected");
  // Mallory claims to be node 7.
  [c, s] = await run(7, mallory.seed, 8);
  assert(
    s.status === "rejected" && s.reason instanceof SecureAuthError,
    String(s.status === "rejected" && s.reason),
  );
  // A node whose key nobody knows.
  [c, s] = await run(99, mallory.seed, 8);
  assert(s.status === "rejected" && /no public key/.test(s.reason.message));
});

Deno.test("auth messages are refused when stale or replayed", async () => {
  const alice = generateEd25519KeyPair();
  const x = new Uint8Array(32).fill(3);
  const cache = new AuthNonceCache();
  const now = 1_700_000_000_000;
  const lookup = () => alice.publicKey;
  const msg = createAuthMessage({ nodeId: 7, seed: alice.seed }, x, now);
  assertEquals(await verifyAuthMessage(msg, x, { lookup, cache, nowMs: now + 4000 }), 7);
  await assertRejects(
    () => verifyAuthMessage(msg, x, { lookup, cache, nowMs: now }),
    SecureAuthError,
    /replayed/,
  );
  const old = createAuthMessage({ nodeId: 7, seed: alice.seed }, x, now);
  await assertRejects(
    () => verifyAuthMessage(old, x, { lookup, cache, nowMs: now + 6000 }),
    SecureAuthError,
    /timestamp/,
  );
  // Bound to the sender's ephemeral key: another key does not verify.
  const other = createAuthMessage({ nodeId: 7, seed: alice.seed }, x, now);
  await assertRejects(
    () => verifyAuthMessage(other, new Uint8Array(32).fill(4), { lookup, cache, nowMs: now }),
    SecureAuthError,
    /signature/,
  );
});

Deno.test("the nonce cache forgets after its TTL and stays within capacity", () => {
  const cache = new AuthNonceCache(1000, 3);
  const n = (i: number) => new Uint8Array(16).fill(i);
  assert(cache.remember(n(1), 0));
  assert(!cache.remember(n(1), 500));
  assert(cache.remember(n(1), 1500));
  for (let i = 2; i < 10; i++) cache.remember(n(i), 1500);
  assertEquals(cache.size, 3);
});
