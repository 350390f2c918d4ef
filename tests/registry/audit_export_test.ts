/**
 * Audit export and the registry webhook end to end: a `pilot registry` subprocess on
 * loopback exports to a syslog receiver over UDP and over TCP, to a Hono HTTP collector
 * that refuses its first requests, and to a size-rotated file; every audit entry must
 * arrive everywhere, and the only duplicates allowed are resends of a delivery whose
 * outcome the registry could not see. Webhook events to a failing receiver end in the
 * dead-letter queue, which survives a SIGKILL and is delivered by a replay.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { Hono } from "hono";
import { RegistryClient } from "../../lib/registry/client.ts";
import { RegistryReplyError } from "../../lib/registry/errors.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ADMIN_TOKEN, cleanup, newClient, type RegistryProcess, spawnRegistry } from "./helpers.ts";
import { ignoreRejection, settleQuietly } from "../../lib/errors.ts";
import dgram from "node:dgram";

/** Registrations made; each yields one `node.registered` entry. */
const NODES = 40;
/** Requests the HTTP collector refuses with 503 before it starts accepting. */
const COLLECTOR_FAILS = 3;
/** Rotation size of the file sink: small, so the test rotates several times. */
const ROTATE_BYTES = 2048;
/** How long the receivers get to see everything. */
const ARRIVAL_DEADLINE_MS = 30_000;

/** What identifies an audit entry: its event's sequence number and its action. */
type Key = string;
const key = (seq: unknown, action: unknown): Key => `${seq}/${action}`;

function admin(address: string): RegistryClient {
  return new RegistryClient({ address, adminToken: ADMIN_TOKEN, timeoutMs: 10_000 });
}

async function call(c: RegistryClient, msg: WireMessage): Promise<WireMessage> {
  const reply = await c.plain(msg, { admin: true });
  assert(reply.type !== "error", `${msg.type}: ${JSON.stringify(reply)}`);
  return reply;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ARRIVAL_DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every audit entry the registry holds, as keys. */
async function auditKeys(c: RegistryClient): Promise<Set<Key>> {
  const reply = await call(c, { type: "get_audit_log", limit: 1000 });
  return new Set((reply.entries as WireMessage[]).map((e) => key(e.seq, e.action)));
}

/** Counts of each key; throws when a key is not in `truth`. */
function tally(keys: Key[], truth: Set<Key>, where: string): Map<Key, number> {
  const counts = new Map<Key, number>();
  for (const k of keys) {
    assert(truth.has(k), `${where} received ${k}, which is not in the audit log`);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

const RFC5424 =
  /^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) pilot-registry (\S+) audit - (CEF:0\|Pilot\|Registry\|1\.0\|([^|]+)\|([^|]+)\|(\d+)\|(.*))$/;

/** Checks one syslog message's framing and CEF fields; returns its key. */
function checkSyslog(msg: string): Key {
  const m = msg.match(RFC5424);
  assert(m, `not an RFC 5424 message with a CEF payload: ${msg}`);
  const [, pri, , , , , action, name, sev, ext] = m;
  assertEquals(action, name);
  const cefSev = Number(sev);
  assert([3, 4, 6].includes(cefSev), `CEF severity ${sev}`);
  assertEquals(Number(pri), 13 * 8 + (cefSev >= 6 ? 4 : cefSev >= 4 ? 5 : 6), "PRI = log audit facility");
  const fields = new Map<string, string>();
  for (const part of ext.matchAll(/(\w+)=((?:\\=|[^=])*?)(?= \w+=|$)/g)) fields.set(part[1], part[2]);
  assertEquals(fields.get("cs1"), action);
  assertEquals(fields.get("cs1Label"), "action");
  assertEquals(fields.get("cn1Label"), "network_id");
  assertEquals(fields.get("cn2Label"), "node_id");
  assertEquals(fields.get("dvc"), "pilot-registry");
  assertMatch(fields.get("cn1") ?? "", /^\d+$/);
  assertMatch(fields.get("cn2") ?? "", /^\d+$/);
  return key(fields.get("externalId"), action);
}

/** A UDP syslog receiver: one message per datagram. */
async function udpReceiver() {
  const socket = dgram.createSocket("udp4");
  const messages: string[] = [];
  socket.on("message", (data: Uint8Array) => messages.push(new TextDecoder().decode(data)));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    messages,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A TCP syslog receiver that splits RFC 6587 octet-counted frames. */
function tcpReceiver() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const messages: string[] = [];
  const conns: Deno.Conn[] = [];
  const done = settleQuietly(
    (async () => {
      for await (const conn of listener) {
        conns.push(conn);
        ignoreRejection(
          (async () => {
            let buf = new Uint8Array(0);
            for await (const chunk of conn.readable) {
              const next = new Uint8Array(buf.length + chunk.length);
              next.set(buf);
              next.set(chunk, buf.length);
              buf = next;
              for (;;) {
                const sp = buf.indexOf(0x20);
                if (sp < 0) break;
                const len = Number(new TextDecoder().decode(buf.subarray(0, sp)));
                assert(Number.isInteger(len) && len > 0, "octet count");
                if (buf.length < sp + 1 + len) break;
                messages.push(new TextDecoder().decode(buf.subarray(sp + 1, sp + 1 + len)));
                buf = buf.slice(sp + 1 + len);
              }
            }
          })(),
          "expected in test",
        ); // ends when the test closes the socket
      }
    })(),
    "expected in test",
  );
  return {
    port: (listener.addr as Deno.NetAddr).port,
    messages,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await done;
    },
  };
}

/** A Hono app served on loopback; `app` is set up by the caller. */
function serveApp(app: Hono) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  return { port: server.addr.port, close: () => server.shutdown() };
}

Deno.test({
  name:
    "audit export: syslog UDP and TCP, an HTTP collector that fails first, a rotating file — nothing lost",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-export-" });
    const udp = await udpReceiver();
    const tcp = tcpReceiver();
    let refused = 0;
    let collectorDown = false;
    const hec: { keys: Key[]; auth: string[]; bodies: WireMessage[] } = { keys: [], auth: [], bodies: [] };
    const app = new Hono();
    app.post("/services/collector/event", async (c) => {
      if (refused < COLLECTOR_FAILS || collectorDown) {
        refused++;
        return c.text("busy", 503);
      }
      hec.auth.push(c.req.header("authorization") ?? "");
      for (const line of (await c.req.text()).split("\n").filter((l) => l)) {
        const ev = JSON.parse(line) as WireMessage;
        hec.bodies.push(ev);
        const e = ev.event as WireMessage;
        hec.keys.push(key(e.seq, e.action));
      }
      return c.json({ text: "Success", code: 0 });
    });
    const collector = serveApp(app);
    const file = `${dir}/export/audit.jsonl`;
    const args = [
      "--listen",
      "127.0.0.1:0",
      "--state",
      `${dir}/state`,
      "--admin-token",
      ADMIN_TOKEN,
      "--rate-limit",
      "off",
      "--http",
      "127.0.0.1:0",
      "--audit-export-dir",
      `${dir}/export`,
    ];
    let reg: RegistryProcess | null = await spawnRegistry(args);
    try {
      const a = admin(reg.address);
      const sinks: WireMessage[] = [
        { name: "udp", format: "syslog_cef", endpoint: `udp://127.0.0.1:${udp.port}` },
        { name: "tcp", format: "syslog_cef", endpoint: `tcp://127.0.0.1:${tcp.port}` },
        {
          name: "hec",
          format: "splunk_hec",
          endpoint: `http://127.0.0.1:${collector.port}/services/collector/event`,
          token: "hec-token",
          index: "pilot",
        },
        { name: "file", format: "json", endpoint: file, rotate_bytes: ROTATE_BYTES, keep_files: 50 },
      ];
      for (const s of sinks) {
        const r = await call(a, { type: "set_audit_export", ...s });
        assertEquals(r.status, "enabled");
      }
      // A file sink outside the export directory would let the admin token append to (and rotate away)
      // any file the registry can write.
      for (const endpoint of [`${dir}/state/snapshot.json`, "../state/x", "file:///etc/passwd"]) {
        await assertRejects(
          () => a.plain({ type: "set_audit_export", name: "bad", format: "json", endpoint }, { admin: true }),
          RegistryReplyError,
          /inside the export directory/,
        );
      }
      // Entries from here on must reach every sink.
      const before = await auditKeys(a);
      const clients = [];
      for (let i = 0; i < NODES; i++) {
        const c = newClient(reg.address);
        await c.register({ listenAddr: ":4000", hostname: `export-${i}` });
        clients.push(c);
      }
      await clients[0].setVisibility(true);
      const truth = new Set([...await auditKeys(a)].filter((k) => !before.has(k)));
      assert(truth.size >= NODES + 1, `expected ≥ ${NODES + 1} new entries, got ${truth.size}`);
      const covers = (keys: Key[]) => {
        const got = new Set(keys);
        return [...truth].every((k) => got.has(k));
      };
      await waitFor("udp syslog", () => covers(udp.messages.map(checkSyslog)));
      await waitFor("tcp syslog", () => covers(tcp.messages.map(checkSyslog)));
      await waitFor("hec collector", () => covers(hec.keys));
      const fileKeys = async () => {
        const out: Key[] = [];
        for await (const e of Deno.readDir(`${dir}/export`)) {
          const text = await Deno.readTextFile(`${dir}/export/${e.name}`);
          for (const line of text.split("\n").filter((l) => l)) {
            const j = JSON.parse(line);
            out.push(key(j.seq, j.action));
          }
        }
        return out;
      };
      await waitFor("file sink", async () => covers(await fileKeys()));

      // Nothing beyond the log, and no duplicates: every refused request was refused before it was read.
      const all = new Set([...before, ...truth]);
      for (const [where, keys] of [["hec", hec.keys], ["file", await fileKeys()]] as const) {
        const counts = tally(keys, all, where);
        const dups = [...counts].filter(([, n]) => n > 1);
        assertEquals(dups, [], `${where} duplicates`);
      }
      tally(tcp.messages.map(checkSyslog), all, "tcp");
      tally(udp.messages.map(checkSyslog), all, "udp");
      assertEquals(refused, COLLECTOR_FAILS);
      assert(hec.auth.every((h) => h === "Splunk hec-token"), "HEC Authorization header");
      for (const b of hec.bodies) {
        assertEquals(b.sourcetype, "pilot:audit");
        assertEquals(b.source, "pilot-registry");
        assertEquals(b.index, "pilot");
        assertEquals(typeof b.time, "number");
      }

      // Rotation: several files, none past the limit, none lost (checked above).
      const files: number[] = [];
      for await (const e of Deno.readDir(`${dir}/export`)) {
        files.push((await Deno.stat(`${dir}/export/${e.name}`)).size);
      }
      assert(files.length >= 3, `expected rotation, found ${files.length} file(s)`);
      assert(files.every((n) => n <= ROTATE_BYTES), `a file over ${ROTATE_BYTES} bytes: ${files}`);

      // Counters: get_audit_export and /metrics.
      const status = await call(a, { type: "get_audit_export" });
      assertEquals(status.enabled, true);
      const byName = new Map((status.sinks as WireMessage[]).map((s) => [s.name, s]));
      assertEquals([...byName.keys()].sort(), ["file", "hec", "tcp", "udp"]);
      assert((byName.get("hec")!.retried as number) >= COLLECTOR_FAILS, "hec retries counted");
      assertEquals(byName.get("hec")!.dropped, 0);
      const metrics = await (await fetch(`http://${reg.info.http}/metrics`)).text();
      assertMatch(metrics, /pilot_registry_audit_exported_total\{sink="hec"\} [1-9]\d*/);
      assertMatch(metrics, /pilot_registry_audit_export_retries_total\{sink="hec"\} [3-9]/);
      assertMatch(metrics, /pilot_registry_audit_export_dropped_total\{sink="udp"\} 0/);
      for (const c of clients) c.close();
      a.close();

      // A crash while the collector is down: the entries it has not taken are sent after the restart.
      collectorDown = true;
      const refusedBefore = refused;
      const b0 = admin(reg.address);
      for (let i = 0; i < 5; i++) {
        const c = newClient(reg.address);
        await c.register({ listenAddr: ":4000" });
        c.close();
      }
      const pending = [...await auditKeys(b0)].filter((k) => !all.has(k));
      assertEquals(pending.length, 5);
      await waitFor("the collector refusing the new entries", () => refused > refusedBefore);
      await waitFor("the file sink taking them", async () => {
        const got = await fileKeys();
        return pending.every((k) => got.includes(k));
      });
      // Let the cursor of the file sink be saved (at most every second) so the file gets no resend.
      await new Promise((r) => setTimeout(r, 1500));
      b0.close();
      reg.child.kill("SIGKILL");
      await reg.child.status;
      collectorDown = false;
      reg = await spawnRegistry(args);
      const b = admin(reg.address);
      const after = await call(b, { type: "get_audit_export" });
      assertEquals((after.sinks as WireMessage[]).length, 4);
      await waitFor(
        "the crash's undelivered entries at the collector",
        () => pending.every((k) => hec.keys.includes(k)),
      );
      for (const k of pending) {
        assertEquals(hec.keys.filter((x) => x === k).length, 1, `${k} at the collector`);
      }
      // And a new entry after the restart reaches the file.
      const late = newClient(reg.address);
      const lateReply = await late.register({ listenAddr: ":4000" });
      const lateKeys = [...await auditKeys(b)].filter((k) =>
        k.endsWith("/node.registered") && !all.has(k) && !pending.includes(k)
      );
      assertEquals(lateKeys.length, 1, `one new registration (node ${lateReply.node_id})`);
      await waitFor("file sink after restart", async () => (await fileKeys()).includes(lateKeys[0]));
      const fileDups = [...tally(await fileKeys(), new Set([...all, ...pending, ...lateKeys]), "file")]
        .filter((
          [, n],
        ) => n > 1);
      assertEquals(fileDups, [], "the file sink's saved cursor spares it a resend");
      late.close();
      b.close();
    } finally {
      reg?.child.kill("SIGKILL");
      await reg?.child.status;
      await udp.close();
      await tcp.close();
      await collector.close();
      await cleanup(dir);
    }
  },
});

Deno.test({
  name: "registry webhook: failures go to the dead-letter queue, which survives SIGKILL and is replayed",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pilot-webhook-" });
    let accepting = false;
    let attempts = 0;
    const received: WireMessage[] = [];
    const app = new Hono();
    app.post("/hook", async (c) => {
      attempts++;
      if (!accepting) return c.text("down", 500);
      received.push(await c.req.json());
      return c.body(null, 204);
    });
    const receiver = serveApp(app);
    const args = [
      "--listen",
      "127.0.0.1:0",
      "--state",
      dir,
      "--admin-token",
      ADMIN_TOKEN,
      "--rate-limit",
      "off",
    ];
    let reg: RegistryProcess | null = await spawnRegistry(args);
    try {
      const a = admin(reg.address);
      const set = await call(a, { type: "set_webhook", url: `http://127.0.0.1:${receiver.port}/hook` });
      assertEquals(set.status, "enabled");
      const clients = [];
      for (let i = 0; i < 3; i++) {
        const c = newClient(reg.address);
        await c.register({ listenAddr: ":4000" });
        clients.push(c);
      }
      // The set_webhook entry itself and three registrations.
      const expected = 4;
      await waitFor(
        "dead letters",
        async () => (await call(a, { type: "get_webhook_dlq" })).count === expected,
      );
      const dlq = await call(a, { type: "get_webhook_dlq" });
      const events = dlq.events as WireMessage[];
      assertEquals(events.filter((e) => e.action === "node.registered").length, 3);
      assertEquals(attempts, expected * 3, "three attempts per event");
      const hook = await call(a, { type: "get_webhook" });
      assertEquals(hook.failed, expected);
      assertEquals(hook.dlq_size, expected);
      for (const c of clients) c.close();
      a.close();

      // SIGKILL: no chance to save anything at exit; the queue must already be on disk.
      reg.child.kill("SIGKILL");
      await reg.child.status;
      reg = await spawnRegistry(args);
      const b = admin(reg.address);
      const again = await call(b, { type: "get_webhook_dlq" });
      assertEquals(
        (again.events as WireMessage[]).map((e) => e.event_id),
        events.map((e) => e.event_id),
        "dead letters after restart",
      );
      const hookAfter = await call(b, { type: "get_webhook" });
      assertEquals(hookAfter.enabled, true, "webhook URL kept across restart");

      accepting = true;
      const replay = await call(b, { type: "replay_webhook_dlq" });
      assertEquals(replay.replayed, expected);
      // The replay's own audit entries are delivered alongside, in any order: wait for every dead letter.
      await waitFor(
        "replayed events",
        () => events.every((e) => received.some((r) => r.event_id === e.event_id)),
      );
      const ids = received.map((r) => r.event_id);
      for (const e of events) {
        assertEquals(ids.filter((id) => id === e.event_id).length, 1, `event ${e.event_id}`);
      }
      for (const r of received) {
        assertEquals(typeof r.action, "string");
        assertMatch(r.timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assertEquals(typeof r.details, "object");
      }
      await waitFor(
        "empty dead-letter queue",
        async () => (await call(b, { type: "get_webhook_dlq" })).count === 0,
      );
      b.close();
    } finally {
      reg?.child.kill("SIGKILL");
      await settleQuietly(reg!.child.status, "cleanup");
      await receiver.close();
      await cleanup(dir);
    }
  },
});
