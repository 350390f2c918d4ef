import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { RegistryStoreError } from "../errors.ts";
import type { RegistryEvent } from "../state/events.ts";
import { snapshotOf } from "../state/snapshot.ts";
import { SNAPSHOT_FILE, Store } from "./store.ts";
import { segmentName } from "./wal.ts";
import { Logger } from "../../log.ts";

const logger = new Logger("test", "silent");
const key = (i: number) => btoa(String(i).padStart(32, "k"));
const reg = (i: number): RegistryEvent => ({
  kind: "node.registered",
  t: 1_700_000_000_000 + i,
  actor: "test",
  node_id: i,
  public_key: key(i),
  owner: "",
  real_addr: `10.0.0.1:${i}`,
  lan_addrs: [],
  mode: "new",
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("events survive reopening; volatile events are not logged", async () => {
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger });
    for (let i = 4; i < 10; i++) await s.emit(reg(i));
    await s.emit({ kind: "node.heartbeat", t: 1, actor: "x", node_id: 4 });
    const before = snapshotOf(s.state);
    await s.close({ snapshot: false });
    const again = await Store.open({ dir, logger });
    assertEquals(again.stats.replayedEvents, 6);
    assertEquals(snapshotOf(again.state), before);
    await again.close();
  });
});

Deno.test("a torn tail is cut off on open and appending continues after it", async () => {
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger });
    for (let i = 4; i < 8; i++) await s.emit(reg(i));
    await s.close({ snapshot: false });
    const path = `${dir}/${segmentName(1)}`;
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 5)); // a crash mid-write
    const again = await Store.open({ dir, logger });
    assertEquals([again.stats.replayedEvents, again.stats.repairedTail], [3, true]);
    await again.emit(reg(20));
    await again.close({ snapshot: false });
    const third = await Store.open({ dir, logger });
    assertEquals([...third.state.nodes.keys()], [4, 5, 6, 20]);
    await third.close();
  });
});

Deno.test("snapshots compact the log; recovery = snapshot + later segments", async () => {
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger, snapshotEveryEvents: 10 });
    for (let i = 4; i < 40; i++) await s.emit(reg(i));
    await new Promise((r) => setTimeout(r, 50)); // let the background snapshot finish
    assert(s.stats.snapshots >= 2);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("wal-"));
    assert(files.length <= 2, `old segments removed, have ${files}`);
    const before = snapshotOf(s.state);
    await s.close({ snapshot: false });
    const again = await Store.open({ dir, logger });
    assert(again.stats.snapshotLoaded);
    assertEquals(snapshotOf(again.state), before);
    await again.close();
  });
});

Deno.test("a damaged snapshot is refused loudly rather than silently starting empty", async () => {
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger });
    await s.emit(reg(4));
    await s.close();
    const path = `${dir}/${SNAPSHOT_FILE}`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 3] ^= 0x01;
    await Deno.writeFile(path, bytes);
    await assertRejects(() => Store.open({ dir, logger }), RegistryStoreError, /SHA-256/);
  });
});

Deno.test("one registry per state directory", async () => {
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger });
    await assertRejects(() => Store.open({ dir, logger }), RegistryStoreError, /in use/);
    await s.close();
    const again = await Store.open({ dir, logger });
    await again.close();
  });
});

Deno.test("after a failed write the store refuses further writes (fail-stop)", async () => {
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger });
    await s.emit(reg(4));
    await s.close({ snapshot: false });
    await assertRejects(() => s.emit(reg(5)), RegistryStoreError);
  });
});

Deno.test("an installed snapshot becomes visible only once it is on disk, and is counted with it", async () => {
  const source = await Store.open({ dir: null, logger });
  for (let i = 4; i < 3_004; i++) await source.emit(reg(i));
  const snap = snapshotOf(source.state) as Record<string, unknown>;
  await withDir(async (dir) => {
    const s = await Store.open({ dir, logger });
    await s.emit(reg(1));
    let done = false;
    const installing = s.installSnapshot(snap, 0).finally(() => done = true);
    // Readers run between the install's I/O steps: none may see the new state half-installed.
    const seen: string[] = [];
    while (!done) {
      if (
        s.state.seq === source.state.seq && (s.durableSeq !== s.state.seq || s.stats.snapshotsInstalled !== 1)
      ) {
        seen.push(`seq ${s.state.seq} durable ${s.durableSeq} installed ${s.stats.snapshotsInstalled}`);
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    await installing;
    assertEquals(seen, []);
    assertEquals([s.state.seq, s.durableSeq, s.stats.snapshotsInstalled], [3_000, 3_000, 1]);
    await s.emit(reg(5_000));
    await s.close({ snapshot: false });
    const again = await Store.open({ dir, logger });
    assertEquals([again.state.seq, again.state.nodes.size], [3_001, 3_001]);
    await again.close();
  });
  await source.close();
});
