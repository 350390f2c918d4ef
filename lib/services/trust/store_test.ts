/**
 * trust.json: the reference layout plus our `revoked` key, owner-only atomic writes,
 * reload, malformed and random files.
 */
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../tests/assert.ts";
import {
  decodeTrustFile,
  emptyTrustState,
  encodeTrustFile,
  rfc3339Seconds,
  TEMP_SUFFIX,
  TRUST_FILE_NAME,
  TrustFileError,
  type TrustState,
  TrustStore,
} from "./store.ts";

const T0 = Date.parse("2025-01-01T00:00:00Z");

function sampleState(): TrustState {
  const s = emptyTrustState();
  s.trusted.set(7, { nodeId: 7, publicKey: "a2V5", approvedAt: T0, mutual: true, network: 3 });
  s.trusted.set(5, { nodeId: 5, publicKey: "", approvedAt: T0 + 1000, mutual: false, network: 0 });
  s.pending.set(9, { nodeId: 9, publicKey: "", justification: "hi", receivedAt: T0 });
  s.revoked.set(11, { nodeId: 11, revokedAt: T0 + 2000 });
  return s;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-trust-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("store: the reference layout — null trusted, omitted pending, omitted zero network and empty strings", () => {
  assertEquals(encodeTrustFile(emptyTrustState()), '{"trusted":null}');
  assertEquals(
    encodeTrustFile(sampleState()),
    '{"trusted":[{"node_id":5,"public_key":"","approved_at":"2025-01-01T00:00:01Z","mutual":false},' +
      '{"node_id":7,"public_key":"a2V5","approved_at":"2025-01-01T00:00:00Z","mutual":true,"network":3}],' +
      '"pending":[{"node_id":9,"justification":"hi","received_at":"2025-01-01T00:00:00Z"}],' +
      '"revoked":[{"node_id":11,"revoked_at":"2025-01-01T00:00:02Z"}]}',
  );
  assertEquals(rfc3339Seconds(T0 + 999), "2025-01-01T00:00:00Z");
});

Deno.test("store: decode(encode(state)) keeps everything at second precision", () => {
  const arbTime = fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000);
  const arbId = fc.integer({ min: 1, max: 0xffff_ffff });
  fc.assert(fc.property(
    fc.array(
      fc.record({
        nodeId: arbId,
        publicKey: fc.base64String({ maxLength: 44 }),
        approvedAt: arbTime,
        mutual: fc.boolean(),
        network: fc.integer({ min: 0, max: 0xffff }),
      }),
      { maxLength: 8 },
    ),
    fc.array(
      fc.record({
        nodeId: arbId,
        publicKey: fc.base64String({ maxLength: 44 }),
        justification: fc.string({ maxLength: 40 }),
        receivedAt: arbTime,
      }),
      { maxLength: 8 },
    ),
    fc.array(fc.record({ nodeId: arbId, revokedAt: arbTime }), { maxLength: 8 }),
    (trusted, pending, revoked) => {
      const s = emptyTrustState();
      for (const t of trusted) s.trusted.set(t.nodeId, { ...t });
      for (const p of pending) s.pending.set(p.nodeId, { ...p });
      for (const r of revoked) s.revoked.set(r.nodeId, { ...r });
      const back = decodeTrustFile(encodeTrustFile(s));
      assertEquals(back, s);
    },
  ));
});

Deno.test("store: malformed files raise TrustFileError naming the field", () => {
  const cases: [string, RegExp][] = [
    ["{", /not JSON/],
    ["[]", /not a JSON object/],
    ['{"trusted":{}}', /"trusted" must be a list/],
    ['{"trusted":[1]}', /trusted\[0\] must be an object/],
    ['{"trusted":[{"node_id":0}]}', /trusted\[0\]\.node_id/],
    ['{"trusted":[{"node_id":1,"mutual":"yes"}]}', /mutual/],
    ['{"trusted":[{"node_id":1,"approved_at":"yesterday"}]}', /approved_at/],
    ['{"trusted":[{"node_id":1,"network":70000}]}', /network/],
    ['{"pending":[{"node_id":2,"justification":5}]}', /pending\[0\]\.justification/],
    ['{"revoked":7}', /"revoked" must be a list/],
    ['{"revoked":[null]}', /revoked\[0\] must be an object/],
    ['{"revoked":[{"node_id":4294967296}]}', /revoked\[0\]\.node_id/],
    ['{"revoked":[{"node_id":3,"revoked_at":12}]}', /revoked\[0\]\.revoked_at/],
  ];
  for (const [text, re] of cases) assertThrows(() => decodeTrustFile(text), TrustFileError, re);
});

Deno.test("store: the reference's file (no revoked key) decodes with an empty deny set, and only ours adds the key", () => {
  const reference =
    '{"trusted":[{"node_id":7,"public_key":"","approved_at":"2025-01-01T00:00:00Z","mutual":true}]}';
  const s = decodeTrustFile(reference);
  assertEquals(s.revoked.size, 0);
  assertEquals(encodeTrustFile(s), reference);
});

Deno.test("store: random and truncated files raise only TrustFileError", () => {
  const full = encodeTrustFile(sampleState());
  const decodeOrOwnError = (text: string) => {
    try {
      decodeTrustFile(text);
    } catch (err) {
      if (!(err instanceof TrustFileError)) throw err;
    }
  };
  for (let i = 0; i <= full.length; i++) decodeOrOwnError(full.slice(0, i));
  fc.assert(fc.property(fc.string({ maxLength: 200 }), decodeOrOwnError));
  // Well-formed JSON of the wrong shapes, including where records are expected.
  const shapes = fc.anything({ maxDepth: 3 });
  fc.assert(fc.property(shapes, shapes, shapes, (trusted, pending, revoked) => {
    decodeOrOwnError(JSON.stringify({ trusted, pending, revoked }) ?? "null");
    decodeOrOwnError(JSON.stringify({ revoked: [{ node_id: 1, revoked_at: revoked }] }) ?? "null");
  }));
});

Deno.test("store: save writes 0600 through a temporary file, and a reopened store has the same state", async () => {
  await withDir(async (dir) => {
    const store = await TrustStore.open(`${dir}/state`);
    assertEquals((await Deno.stat(`${dir}/state`)).mode! & 0o777, 0o700);
    assertEquals(store.state.trusted.size, 0);
    for (const [k, v] of sampleState().trusted) store.state.trusted.set(k, v);
    for (const [k, v] of sampleState().pending) store.state.pending.set(k, v);
    for (const [k, v] of sampleState().revoked) store.state.revoked.set(k, v);
    await store.save();
    const path = `${dir}/state/${TRUST_FILE_NAME}`;
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    const names = [...Deno.readDirSync(`${dir}/state`)].map((e) => e.name);
    assertEquals(names, [TRUST_FILE_NAME]); // the temporary file was renamed, not left behind
    const again = await TrustStore.open(`${dir}/state`);
    assertEquals(again.state, sampleState());
  });
});

Deno.test("store: a stale world-readable temporary file does not leak its mode, and concurrent saves end with the last state", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/${TRUST_FILE_NAME}`;
    await Deno.writeTextFile(path + TEMP_SUFFIX, "junk", { mode: 0o644 });
    await Deno.chmod(path + TEMP_SUFFIX, 0o644);
    const store = await TrustStore.open(dir);
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      store.state.trusted.set(i, { nodeId: i, publicKey: "", approvedAt: T0, mutual: false, network: 0 });
      saves.push(store.save());
    }
    await Promise.all(saves);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals(decodeTrustFile(await Deno.readTextFile(path)).trusted.size, 20);
  });
});

Deno.test("store: a crash between temp write and rename leaves the previous file intact", async () => {
  await withDir(async (dir) => {
    const store = await TrustStore.open(dir);
    store.state.trusted.set(3, { nodeId: 3, publicKey: "", approvedAt: T0, mutual: true, network: 0 });
    await store.save();
    // What an interrupted save leaves: a half-written temporary file beside the real one.
    await Deno.writeTextFile(`${dir}/${TRUST_FILE_NAME}${TEMP_SUFFIX}`, '{"trusted":[{"node_');
    const reopened = await TrustStore.open(dir);
    assertEquals([...reopened.state.trusted.keys()], [3]);
  });
});

Deno.test("store: a malformed file is moved aside and the store starts empty", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/${TRUST_FILE_NAME}`, "not json");
    const store = await TrustStore.open(dir);
    assertEquals(store.state.trusted.size + store.state.pending.size, 0);
    assertEquals(await Deno.readTextFile(`${dir}/${TRUST_FILE_NAME}.bad`), "not json");
    await store.save();
    assert((await Deno.readTextFile(`${dir}/${TRUST_FILE_NAME}`)).startsWith('{"trusted":null'));
  });
});

Deno.test("store: a memory store never touches the disk", async () => {
  const store = TrustStore.memory();
  store.state.pending.set(1, { nodeId: 1, publicKey: "", justification: "", receivedAt: 0 });
  await store.save();
  assertEquals(store.path, undefined);
});
