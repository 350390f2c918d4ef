/** The daemon's key look-ups for unknown senders: coalesced, negatively cached, held to a budget. */
import { assertEquals } from "../../tests/assert.ts";
import { toBase64 } from "../bytes.ts";
import { Logger } from "../log.ts";
import type { RegistryClient } from "../registry/client.ts";
import { RegistryReplyError } from "../registry/errors.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";
import { KEY_LOOKUP_BURST, PeerDirectory } from "./peers.ts";

const KNOWN = 7;
const KEY = new Uint8Array(32).fill(3);

/** A registry that knows node 7 only, answers after a tick, and counts look-ups. */
function fakeRegistry() {
  const asked: number[] = [];
  const registry = {
    async lookup(node: number) {
      asked.push(node);
      await new Promise((r) => setTimeout(r, 5));
      if (node !== KNOWN) throw new RegistryReplyError(`node ${node} not found`, "not_found");
      return { public_key: toBase64(KEY) };
    },
  } as unknown as RegistryClient;
  return { registry, asked };
}

function directory(registry: RegistryClient): PeerDirectory {
  return new PeerDirectory(registry, {} as Tunnel, new Logger("peers-test", "silent"), () => 1);
}

Deno.test("peers: concurrent key questions about one node share one look-up", async () => {
  const { registry, asked } = fakeRegistry();
  const dir = directory(registry);
  const keys = await Promise.all([dir.publicKey(KNOWN), dir.publicKey(KNOWN), dir.publicKey(KNOWN)]);
  assertEquals(keys, [KEY, KEY, KEY]);
  assertEquals(asked, [KNOWN]);
  assertEquals(dir.keyLookupCounters.coalesced, 2);
  assertEquals(await dir.publicKey(KNOWN), KEY); // cached
  assertEquals(asked.length, 1);
});

Deno.test("peers: an ID the registry does not know is not asked about again (negative cache)", async () => {
  const { registry, asked } = fakeRegistry();
  const dir = directory(registry);
  assertEquals(await dir.publicKey(4242), undefined);
  assertEquals(await dir.publicKey(4242), undefined);
  assertEquals(asked, [4242]);
  assertEquals(dir.keyLookupCounters.unknownCached, 1);
});

Deno.test("peers: made-up IDs spend at most the daemon's own look-up budget", async () => {
  const { registry, asked } = fakeRegistry();
  const dir = directory(registry);
  const n = 5 * KEY_LOOKUP_BURST;
  await Promise.all(Array.from({ length: n }, (_, i) => dir.publicKey(100_000 + i)));
  assertEquals(asked.length, KEY_LOOKUP_BURST);
  assertEquals(dir.keyLookupCounters.overBudget, n - KEY_LOOKUP_BURST);
});
