import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { Address } from "../../protocol/address.ts";
import {
  DEFAULT_RECORD_TTL_MS,
  MAX_PROVIDERS_PER_SERVICE,
  MAX_RECORDS_PER_NODE,
  NameRecords,
  RegistrationRefusedError,
  UNKNOWN_OWNER,
} from "./records.ts";
import { decodeRecordFile, encodeRecordFile, RecordFile } from "./record_file.ts";

const at = (node: number, network = 0) => new Address(network, node);

function table(ttlMs = 1000) {
  const clock = { now: 1_000_000 };
  return { clock, records: new NameRecords({ ttlMs, now: () => clock.now }) };
}

Deno.test("the default TTL is 5 minutes", () => {
  assertEquals(DEFAULT_RECORD_TTL_MS, 300_000);
  assertEquals(new NameRecords().ttlMs, 300_000);
});

Deno.test("A, N and S records are found until their TTL, renewed by registering again", () => {
  const { clock, records } = table();
  records.registerA(5, "web", at(5));
  records.registerN(5, "lab", 7);
  records.registerS(5, "web", at(5, 1), 1, 80);
  assertEquals(records.lookupA("web"), at(5));
  assertEquals(records.lookupN("lab"), 7);
  assertEquals(records.lookupS(1, 80), [{ name: "web", address: at(5, 1), port: 80 }]);
  clock.now += 600;
  records.registerA(5, "web", at(5));
  records.registerS(5, "www", at(5, 1), 1, 80); // same provider: renewed and renamed, not added
  assertEquals(records.size, 3);
  clock.now += 600; // lab is 1200 ms old, web 600 ms
  assertEquals(records.lookupN("lab"), undefined);
  assertEquals(records.lookupA("web"), at(5));
  assertEquals(records.lookupS(1, 80), [{ name: "www", address: at(5, 1), port: 80 }]);
  assertEquals(records.reap(), 1);
  clock.now += 600;
  assertEquals([records.lookupA("web"), records.lookupS(1, 80)], [undefined, []]);
  assertEquals(records.reap(), 2);
  assertEquals(records.size, 0);
});

Deno.test("a node registers only its own address and cannot take another's live name", () => {
  const { clock, records } = table();
  const refused = (f: () => void, text: string) => {
    const err = assertThrows(f, RegistrationRefusedError);
    assertEquals(err.message, text);
  };
  refused(() => records.registerA(5, "web", at(6)), "cannot register address for another node");
  refused(() => records.registerS(5, "web", at(6), 1, 80), "cannot register service for another node");
  records.registerA(5, "web", at(5));
  records.registerN(5, "lab", 7);
  refused(() => records.registerA(6, "web", at(6)), 'name "web" is registered by another node');
  refused(() => records.registerN(6, "lab", 8), 'network "lab" is registered by another node');
  assertEquals([records.lookupA("web"), records.lookupN("lab")], [at(5), 7]);
  clock.now += 1001; // expired: the name is free again
  records.registerA(6, "web", at(6));
  assertEquals(records.lookupA("web"), at(6));
});

Deno.test("limits: records per node and providers per service", () => {
  const { records } = table();
  for (let i = 0; i < MAX_RECORDS_PER_NODE; i++) records.registerA(5, `n${i}`, at(5));
  assertThrows(() => records.registerN(5, "one-more", 1), RegistrationRefusedError, /per node/);
  records.registerA(5, "n0", at(5)); // renewing is not a new record
  records.registerA(6, "other", at(6));
  for (let node = 100; node < 100 + MAX_PROVIDERS_PER_SERVICE; node++) {
    records.registerS(node, "s", at(node), 1, 80);
  }
  assertThrows(() => records.registerS(99, "s", at(99), 1, 80), RegistrationRefusedError, /providers/);
});

Deno.test("snapshots survive the file and restore drops what expired", async () => {
  const { clock, records } = table(10_000);
  records.registerA(5, "web", at(5));
  records.registerN(5, "lab", 7);
  records.registerS(5, "web", at(5, 1), 1, 80);
  clock.now += 5_000;
  records.registerA(6, "db", at(6));
  const text = encodeRecordFile(records.snapshot());
  const doc = JSON.parse(text);
  assertEquals(doc.a_records.map((r: { name: string }) => r.name).sort(), ["db", "web"]);
  assertEquals(doc.s_records[0], {
    name: "web",
    address: "1:0001.0000.0005",
    network_id: 1,
    port: 80,
    owner: 5,
    expires_at: new Date(1_010_000).toISOString(),
  });
  clock.now += 6_000; // web, lab and the S record are past their expiry; db is not
  const { snapshot, skipped } = decodeRecordFile(text, clock.now, 10_000);
  assertEquals(skipped, 0);
  const again = new NameRecords({ ttlMs: 10_000, now: () => clock.now });
  assertEquals(again.restore(snapshot), { loaded: 1, dropped: 3, reason: undefined });
  assertEquals([again.lookupA("db"), again.lookupA("web"), again.lookupN("lab")], [
    at(6),
    undefined,
    undefined,
  ]);
  // The owner came back with the record: another node still cannot take it.
  assertThrows(() => again.registerA(7, "db", at(7)), RegistrationRefusedError);

  const dir = await Deno.makeTempDir();
  try {
    const file = new RecordFile(`${dir}/sub/ns.json`);
    await Promise.all([file.save(() => records.snapshot()), file.save(() => records.snapshot())]);
    assertEquals((await Deno.stat(`${dir}/sub/ns.json`)).mode! & 0o777, 0o600);
    const loaded = await file.load(clock.now, 10_000);
    assertEquals(loaded?.a.map((r) => r.name), ["db"]); // web had expired: snapshots hold live records
    await Deno.writeTextFile(`${dir}/sub/ns.json`, "{not json");
    assertEquals(await file.load(clock.now, 10_000), undefined);
    assertEquals(await Deno.readTextFile(`${dir}/sub/ns.json.bad`), "{not json");
    assertEquals(await new RecordFile(`${dir}/missing.json`).load(0, 1), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a reference file (no owners, no expiry) loads with a fresh TTL; bad entries are skipped", () => {
  const text = JSON.stringify({
    a_records: [{ name: "web", address: "0:0000.0000.0005" }, {
      name: "bad name",
      address: "0:0000.0000.0005",
    }],
    n_records: [{ name: "lab", network_id: 7 }, { name: "big", network_id: 70000 }],
    s_records: [{ name: "web", address: "nowhere", network_id: 1, port: 80 }],
  });
  const { snapshot, skipped } = decodeRecordFile(text, 1000, 500);
  assertEquals(skipped, 3);
  assertEquals(snapshot.a, [{ name: "web", address: at(5), expiresAt: 1500, owner: UNKNOWN_OWNER }]);
  assertEquals(snapshot.n, [{ name: "lab", network: 7, expiresAt: 1500, owner: UNKNOWN_OWNER }]);
  const records = new NameRecords({ ttlMs: 500, now: () => 1000 });
  assertEquals(records.restore(snapshot).loaded, 2);
  // An unowned N record may be taken by anyone; the A record belongs to its address's node.
  records.registerN(9, "lab", 8);
  assertThrows(() => records.registerA(9, "web", at(9)), RegistrationRefusedError);
  assertThrows(() => decodeRecordFile("[]", 0, 1), Error, /object/);
  assertThrows(() => decodeRecordFile('{"a_records":{}}', 0, 1), Error, /list/);
});
