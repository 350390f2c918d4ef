/**
 * A standby that was down while 100,000 nodes registered catches up. The
 * primary's 100,000 registrations are written as events straight through its
 * store, in-process (registering them over the wire would take minutes on CI);
 * the standbys fetch them over the wire like any other events. One standby is
 * behind by more than the primary retains, so it catches up from a snapshot in
 * 1 MiB chunks; the other is behind by less, so it catches up from the log.
 */
import { assert, assertEquals } from "../assert.ts";
import { cleanup, registeredClient, startRegistry } from "./helpers.ts";
import type { RegistryService } from "../../lib/registry/service.ts";
import type { RegistryEvent } from "../../lib/registry/state/events.ts";
import { toBase64 } from "../../lib/bytes.ts";

const TOKEN = "catchup-token-0123456789";
const NODES = 100_000;
const RETAIN = 60_000;

async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function registerDirect(primary: RegistryService, from: number, count: number): Promise<void> {
  const store = primary.registry.store;
  const key = new Uint8Array(32);
  let last: Promise<void> = Promise.resolve();
  for (let i = from; i < from + count; i++) {
    new DataView(key.buffer).setUint32(0, i);
    const id = store.state.nextNode;
    last = store.emit({
      kind: "node.registered",
      t: Date.now(),
      actor: `node:${id}`,
      node_id: id,
      public_key: toBase64(key),
      owner: "",
      real_addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:4000`,
      lan_addrs: [],
      mode: "new",
    } as RegistryEvent);
    if (i % 5_000 === 0) await last; // let group commit flush
  }
  await last;
}

Deno.test({
  name: "standbys down while 100,000 nodes registered catch up (from a snapshot and from the log)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const replication = { token: TOKEN, heartbeatMs: 1_000 };
    const primary = await startRegistry({ replication, retainEvents: RETAIN });
    const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    let standbys: (RegistryService | null)[] = [null, null];
    const open = (i: number) =>
      startRegistry({ dir: dirs[i], replication: { ...replication, standbyOf: primary.address } });
    try {
      standbys = await Promise.all([open(0), open(1)]);
      const c = await registeredClient(primary.address);
      c.close();
      await until(
        () => standbys.every((s) => s!.registry.state.seq === primary.registry.state.seq),
        "first sync",
      );
      // Standby 0 goes down, then 100,000 registrations; standby 1 goes down half-way.
      await standbys[0]!.close();
      standbys[0] = null;
      const started = performance.now();
      await registerDirect(primary, 0, NODES / 2);
      await until(() => standbys[1]!.registry.state.seq === primary.registry.state.seq, "standby 1 half-way");
      await standbys[1]!.close();
      standbys[1] = null;
      await registerDirect(primary, NODES / 2, NODES / 2);
      const writeMs = performance.now() - started;
      assertEquals(primary.registry.state.nodes.size, NODES + 1);

      const t0 = performance.now();
      standbys = await Promise.all([open(0), open(1)]);
      const seq = primary.registry.state.seq;
      await until(() => standbys.every((s) => s!.registry.state.seq === seq), "both standbys caught up");
      const catchupMs = performance.now() - t0;
      for (const s of standbys) assertEquals(s!.registry.state.nodes.size, NODES + 1);
      const st = standbys.map((s) => s!.registry.replicator!.status());
      assertEquals(st[0].snapshots_installed, 1, "standby 0 was behind by more than the retained log");
      assertEquals(st[1].snapshots_installed, 0, "standby 1 caught up from the log");
      // The caught-up state is the primary's: spot-check a node at the end.
      const lastId = primary.registry.state.nextNode - 1;
      for (const s of standbys) {
        assertEquals(
          s!.registry.state.nodes.get(lastId)?.realAddr,
          primary.registry.state.nodes.get(lastId)?.realAddr,
        );
      }
      assert(standbys[0]!.registry.store.durable);
      console.log(
        `${NODES} registrations written in ${writeMs.toFixed(0)} ms; both standbys caught up in ${
          catchupMs.toFixed(0)
        } ms (one by snapshot, one by log)`,
      );
    } finally {
      for (const s of standbys) await s?.close();
      await primary.close();
      for (const d of dirs) await cleanup(d);
      await cleanup(primary.dir);
    }
  },
});
