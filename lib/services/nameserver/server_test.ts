import { assertEquals } from "../../../tests/assert.ts";
import { Address } from "../../protocol/address.ts";
import { memoryStreamPair } from "../testing/memory_stream.ts";
import { exchangeRequest } from "./exchange.ts";
import { NameRecords } from "./records.ts";
import { NameserverServer } from "./server.ts";
import type { NameserverRequest } from "./codec.ts";

/** One exchange from node `from` against `server`, over an in-memory stream pair. */
async function ask(server: NameserverServer, from: number, request: NameserverRequest) {
  const { a, b } = memoryStreamPair({ bRemote: new Address(0, from) });
  const served = server.handle(b);
  const answer = await exchangeRequest(a, request, { timeoutMs: 2_000 });
  await served;
  return answer;
}

Deno.test("the server answers one request per connection and checks the caller's node", async () => {
  const server = new NameserverServer({ records: new NameRecords() });
  const own = new Address(0, 5);
  assertEquals(await ask(server, 5, { op: "register", type: "A", name: "web", address: own }), {
    kind: "OK",
  });
  assertEquals(await ask(server, 9, { op: "query", type: "A", name: "web" }), {
    kind: "A",
    name: "web",
    address: own,
  });
  assertEquals(await ask(server, 9, { op: "register", type: "A", name: "x", address: own }), {
    kind: "ERR",
    message: "cannot register address for another node",
  });
  assertEquals(await ask(server, 9, { op: "query", type: "N", name: "lab" }), {
    kind: "ERR",
    message: 'network "lab" not found',
  });
  assertEquals(server.stats, { queries: 2, registrations: 1, refused: 1, malformed: 0 });
});

Deno.test("a malformed request gets ERR with the parse error", async () => {
  const server = new NameserverServer({ records: new NameRecords() });
  const { a, b } = memoryStreamPair();
  const served = server.handle(b);
  await a.write(new TextEncoder().encode("QUERY MX web"));
  const reply = await a.read({ timeoutMs: 2_000 });
  await served;
  assertEquals(new TextDecoder().decode(reply!), "ERR unknown record type: MX");
  assertEquals(await a.read({ timeoutMs: 2_000 }), null);
});
