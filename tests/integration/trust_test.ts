/**
 * The trust handshake end to end: a registry and private daemons as real `pilot`
 * subprocesses on loopback, driven through the SDK and the CLI. Covers the trust matrix
 * (approve, mutual, shared network, reject, revoke mid-transfer, a revocation that
 * outranks a shared network until trust is re-established), a forged relayed request
 * and the privacy gate's RST for an untrusted SYN.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { WebhookReceiver } from "../helpers/webhook_receiver.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import { generateEd25519KeyPair, signEd25519 } from "../../lib/crypto/ed25519.ts";
import { toBase64, utf8 } from "../../lib/bytes.ts";
import { loadIdentityFile } from "../../lib/crypto/identity.ts";
import { encodeHandshake, type HandshakeMessage } from "../../lib/services/trust/codec.ts";
import { closeQuietly, settleQuietly } from "../../lib/errors.ts";

/** Fast heartbeats so relayed requests and answers are polled within a fraction of a second. */
const FAST = ["--heartbeat", "250ms"];
const ADMIN_TOKEN = "trust-test-admin-token";

interface Node {
  d: TestDaemon;
  c: PilotClient;
}

async function withNodes(
  count: number,
  fn: (nodes: Node[], net: TestNetwork) => Promise<void>,
  opts: { registryArgs?: string[]; daemonArgs?: string[][] } = {},
): Promise<void> {
  const net = await TestNetwork.start(opts.registryArgs ?? []);
  const nodes: Node[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const d = await net.addDaemon(`n${i}`, [...FAST, ...(opts.daemonArgs?.[i] ?? [])]);
      nodes.push({ d, c: await connect(d.socket, { timeoutMs: 5_000 }) });
    }
    await fn(nodes, net);
  } catch (err) {
    for (const [i, n] of nodes.entries()) {
      console.error(`--- n${i} stderr (last lines) ---\n${n.d.process.stderrLines.slice(-40).join("\n")}`);
    }
    throw err;
  } finally {
    for (const n of nodes) await closeQuietly(n.c);
    await net.close();
  }
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const trusts = async (n: Node, peer: Node) =>
  (await n.c.trustedPeers()).find((t) => t.node_id === peer.d.nodeId);
const pendingFrom = async (n: Node, peer: Node) =>
  (await n.c.pendingHandshakes()).find((p) => p.node_id === peer.d.nodeId);

async function metric(d: TestDaemon, name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${d.http}/metrics`)).text();
  const re = new RegExp(`^${name}${label ? `\\{[^}]*${label}[^}]*\\}` : ""} (\\S+)$`, "m");
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Accepts one connection on `port` of `server` while `client` dials it; both ends returned. */
async function connectPair(client: Node, server: Node, port: number) {
  const listener = await server.c.listen(port);
  const accepted = listener.accept({ timeoutMs: 15_000 });
  const conn = await client.c.dial(server.d.address, port, { timeoutMs: 15_000 });
  return { conn, peer: await accepted };
}

/** A handshake reply without `via` (ours: how the request went), which must be one of the known ways. */
function withoutVia(reply: object): Record<string, unknown> {
  const { via, ...rest } = reply as Record<string, unknown>;
  assert(["direct", "relay", "mutual", "trusted"].includes(String(via)), `handshake via ${via}`);
  return rest;
}

/** A asks, B's operator approves: both end up trusting each other and can connect both ways. */
async function handshakeAndApprove(a: Node, b: Node, why = "need your data"): Promise<void> {
  assertEquals(withoutVia(await a.c.handshake(b.d.nodeId, why, { timeoutMs: 30_000 })), {
    status: "sent",
    node_id: b.d.nodeId,
  });
  const p = await waitFor("B to list A's request", () => pendingFrom(b, a));
  assertEquals(p.justification, why);
  assertEquals(await b.c.approveHandshake(a.d.nodeId), { status: "approved", node_id: a.d.nodeId });
  await waitFor("A to trust B", () => trusts(a, b));
  await waitFor("B to trust A", () => trusts(b, a));
}

const OPTS = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...OPTS,
  name:
    "trust: asked by one, approved by the other — CLI envelopes, connections both ways, trust.json survives a restart",
  async fn() {
    await withNodes(2, async ([a, b], net) => {
      // Private nodes cannot reach each other before trust: the request goes through the registry relay.
      const cli = await runPilot([
        "handshake",
        String(b.d.nodeId),
        "need",
        "your",
        "data",
        "--socket",
        a.d.socket,
        "--json",
      ]);
      assertEquals(cli.code, 0, cli.stderr);
      const env = JSON.parse(cli.stdout);
      assertEquals({ ...env, data: withoutVia(env.data) }, {
        status: "ok",
        data: { status: "sent", node_id: b.d.nodeId },
      });
      await waitFor("B to list A's request", () => pendingFrom(b, a));
      const pending = await runPilot(["pending", "--socket", b.d.socket, "--json"]);
      const listed = JSON.parse(pending.stdout);
      assertEquals(listed.status, "ok");
      assertEquals(listed.data.pending.length, 1);
      assertEquals(listed.data.pending[0].node_id, a.d.nodeId);
      assertEquals(listed.data.pending[0].justification, "need your data");
      assertEquals((await b.c.info()).handshake_pending_count, 1);

      const approve = await runPilot(["approve", String(a.d.nodeId), "--socket", b.d.socket, "--json"]);
      assertEquals(JSON.parse(approve.stdout), {
        status: "ok",
        data: { status: "approved", node_id: a.d.nodeId },
      });
      const onA = await waitFor("A to trust B", () => trusts(a, b));
      const onB = await waitFor("B to trust A", () => trusts(b, a));
      assertEquals([onA.mutual, onB.mutual, onA.network, onB.network], [true, false, 0, 0]);
      assert(onB.public_key.length > 0, "B recorded A's key");
      assertEquals(await b.c.pendingHandshakes(), []);

      // Trust opens both gates.
      for (const [from, to, port] of [[a, b, 5100], [b, a, 5101]] as const) {
        const { conn, peer } = await connectPair(from, to, port);
        await conn.write(utf8("ping"));
        assertEquals(new TextDecoder().decode((await peer.read({ timeoutMs: 10_000 }))!), "ping");
        await conn.close();
        await peer.close();
      }

      // The CLI's trust list, and trust.json beside the identity (0600), reloaded after a restart.
      const list = JSON.parse((await runPilot(["trust", "--socket", b.d.socket, "--json"])).stdout);
      assertEquals(list.data.trusted.map((t: { node_id: number }) => t.node_id), [a.d.nodeId]);
      const file = `${b.d.stateDir}/trust.json`;
      assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
      const saved = JSON.parse(await Deno.readTextFile(file));
      assertEquals(saved.trusted[0].node_id, a.d.nodeId);
      assertEquals(saved.pending, undefined);
      await b.c.close();
      await net.restartDaemon(b.d);
      b.c = await connect(b.d.socket, { timeoutMs: 5_000 });
      assertEquals((await trusts(b, a))?.mutual, false);
    });
  },
});

Deno.test({
  ...OPTS,
  name: "trust: both ask — auto-approved as mutual without the operator",
  async fn() {
    await withNodes(2, async ([a, b]) => {
      await a.c.handshake(b.d.nodeId, "a to b", { timeoutMs: 30_000 });
      await b.c.handshake(a.d.nodeId, "b to a", { timeoutMs: 30_000 });
      const onA = await waitFor("A to trust B", () => trusts(a, b));
      const onB = await waitFor("B to trust A", () => trusts(b, a));
      assert(onA.mutual && onB.mutual, "both records are mutual");
      assertEquals(await a.c.pendingHandshakes(), []);
      assertEquals(await b.c.pendingHandshakes(), []);
      const { conn, peer } = await connectPair(a, b, 5200);
      await conn.close();
      await peer.close();
    });
  },
});

Deno.test({
  ...OPTS,
  name: "trust: nodes in a shared open network — the request is delivered directly and auto-approved",
  async fn() {
    await withNodes(2, async ([a, b], net) => {
      const admin = new RegistryClient({ address: net.registryAddr, adminToken: ADMIN_TOKEN });
      try {
        const created = await admin.createNetwork({ name: "lab" });
        const id = Number(created.network_id);
        await a.c.networkJoin(id);
        await b.c.networkJoin(id);
        await a.c.handshake(b.d.nodeId, "same lab", { timeoutMs: 30_000 });
        const onB = await waitFor("B to trust A", () => trusts(b, a));
        assertEquals([onB.network, onB.mutual], [id, false]);
        const onA = await waitFor("A to trust B", () => trusts(a, b));
        assert(onA.mutual, "A's request was answered with accept");
        assertEquals(await metric(b.d, "pilot_handshake_auto_approved_total", 'reason="same_network"'), 1);
        assertEquals(await metric(b.d, "pilot_handshake_processed_total", 'type="handshake_request"'), 1);
        assertEquals(await b.c.pendingHandshakes(), []);
      } finally {
        admin.close();
      }
    }, { registryArgs: ["--admin-token", ADMIN_TOKEN] });
  },
});

/** `pilot <args> --socket <d's socket> --json`, which must succeed; its `data`. */
async function pilotOk(d: TestDaemon, args: string[]): Promise<Record<string, unknown>> {
  const r = await runPilot([...args, "--socket", d.socket, "--json"]);
  assertEquals(r.code, 0, r.stderr);
  const env = JSON.parse(r.stdout);
  assertEquals(env.status, "ok");
  return env.data;
}

/** B's trust.json as saved. */
async function savedTrust(d: TestDaemon): Promise<{ revoked?: { node_id: number; revoked_at: string }[] }> {
  return JSON.parse(await Deno.readTextFile(`${d.stateDir}/trust.json`));
}

/** A dial from `from` to `to` is refused with RST ("connection refused"), not a timeout. */
async function assertRefused(from: Node, to: Node, port: number): Promise<void> {
  const err = await assertRejects(() => from.c.dial(to.d.address, port, { timeoutMs: 30_000 }), Error);
  assert(/connection refused/.test(err.message), err.message);
}

/** A ping over a fresh connection from `from` to `to`; the connection is left open. */
async function ping(from: Node, to: Node, port: number) {
  const pair = await connectPair(from, to, port);
  await pair.conn.write(utf8("ping"));
  assertEquals(new TextDecoder().decode((await pair.peer.read({ timeoutMs: 10_000 }))!), "ping");
  return pair;
}

Deno.test({
  ...OPTS,
  name:
    "trust: a revocation outranks a shared network — refused and held for the operator, across a restart, until trust is re-established",
  async fn() {
    await withNodes(2, async ([a, b], net) => {
      const admin = new RegistryClient({ address: net.registryAddr, adminToken: ADMIN_TOKEN });
      try {
        const lab = Number((await admin.createNetwork({ name: "lab" })).network_id);
        await a.c.networkJoin(lab);
        await b.c.networkJoin(lab);
        await a.c.handshake(b.d.nodeId, "same lab", { timeoutMs: 30_000 });
        await waitFor("B to trust A", () => trusts(b, a));
        await waitFor("A to trust B", () => trusts(a, b));
        const sameNetwork = () => metric(b.d, "pilot_handshake_auto_approved_total", 'reason="same_network"');
        assertEquals(await sameNetwork(), 1);
        const { conn, peer } = await ping(a, b, 5700);

        // The operator revokes: the open connection is reset at once.
        const revokedAt = Date.now();
        assertEquals(await pilotOk(b.d, ["untrust", String(a.d.nodeId)]), { node_id: a.d.nodeId });
        const ended = await conn.read({ timeoutMs: 5_000 }).then((c) => c === null, () => true);
        assert(ended, "A's end of the connection ended");
        assert(Date.now() - revokedAt < 1_000, `reset after ${Date.now() - revokedAt} ms`);
        await closeQuietly(peer);
        await conn.close();
        await waitFor("A to learn of the revocation", async () => (await a.c.trustedPeers()).length === 0);

        // The shared network no longer opens B's gate for A (the registry's check_trust still would).
        const refusedBefore = await metric(b.d, "pilot_trust_gate_refusals_total");
        await assertRefused(a, b, 5700);
        assert((await metric(b.d, "pilot_trust_gate_refusals_total")) > refusedBefore, "refusal counted");
        assertEquals(await metric(b.d, "pilot_trust_peers", 'kind="revoked"'), 1);
        assertEquals((await savedTrust(b.d)).revoked?.map((r) => r.node_id), [a.d.nodeId]);

        // A asks again: the request waits for B's operator instead of being auto-approved.
        await a.c.handshake(b.d.nodeId, "let me back in", { timeoutMs: 30_000 });
        const held = await waitFor("B to hold A's new request", () => pendingFrom(b, a));
        assertEquals(held.justification, "let me back in");
        assertEquals(await trusts(b, a), undefined);
        assertEquals(await sameNetwork(), 1);

        // The deny entry survives a restart of B.
        await b.c.close();
        await net.restartDaemon(b.d);
        b.c = await connect(b.d.socket, { timeoutMs: 5_000 });
        assertEquals((await savedTrust(b.d)).revoked?.map((r) => r.node_id), [a.d.nodeId]);
        await b.c.listen(5701);
        await assertRefused(a, b, 5701);
        assert(await pendingFrom(b, a), "the held request survived the restart too");

        // The operator approves: the mark is cleared and connections work again.
        assertEquals(await pilotOk(b.d, ["approve", String(a.d.nodeId)]), {
          status: "approved",
          node_id: a.d.nodeId,
        });
        await waitFor("A to trust B again", () => trusts(a, b));
        assertEquals((await savedTrust(b.d)).revoked, undefined);
        assertEquals(await metric(b.d, "pilot_trust_peers", 'kind="revoked"'), 0);
        const again = await ping(a, b, 5702);
        await again.conn.close();
        await again.peer.close();

        // Revoked once more, then B asks A itself: that re-establishes trust too.
        await pilotOk(b.d, ["untrust", String(a.d.nodeId)]);
        await waitFor(
          "A to learn of the second revocation",
          async () => (await a.c.trustedPeers()).length === 0,
        );
        await assertRefused(a, b, 5703);
        assertEquals(withoutVia(await pilotOk(b.d, ["handshake", String(a.d.nodeId), "come", "back"])), {
          status: "sent",
          node_id: a.d.nodeId,
        });
        await waitFor("B to trust A again", () => trusts(b, a));
        assertEquals((await savedTrust(b.d)).revoked, undefined);
        const last = await ping(a, b, 5704);
        await last.conn.close();
        await last.peer.close();
      } finally {
        admin.close();
      }
    }, { registryArgs: ["--admin-token", ADMIN_TOKEN] });
  },
});

Deno.test({
  ...OPTS,
  name: "trust: rejected — nothing is trusted, the requester hears the rejection, dials stay refused",
  async fn() {
    await withNodes(2, async ([a, b]) => {
      await a.c.handshake(b.d.nodeId, "please", { timeoutMs: 30_000 });
      await waitFor("B to list A's request", () => pendingFrom(b, a));
      const cli = await runPilot([
        "reject",
        String(a.d.nodeId),
        "not",
        "today",
        "--socket",
        b.d.socket,
        "--json",
      ]);
      assertEquals(JSON.parse(cli.stdout), {
        status: "ok",
        data: { status: "rejected", node_id: a.d.nodeId },
      });
      assertEquals(await b.c.pendingHandshakes(), []);
      await waitFor(
        "A to hear the rejection",
        async () =>
          (await metric(a.d, "pilot_handshake_processed_total", 'type="relay_reject"')) +
              (await metric(a.d, "pilot_handshake_processed_total", 'type="handshake_reject"')) > 0,
      );
      assertEquals(await a.c.trustedPeers(), []);
      assertEquals(await b.c.trustedPeers(), []);
      await b.c.listen(5300);
      await assertRejects(() => a.c.dial(b.d.address, 5300, { timeoutMs: 10_000 }), Error);
      // Approving after the rejection is a silent no-op: there is nothing pending.
      assertEquals(await b.c.approveHandshake(a.d.nodeId), { status: "approved", node_id: a.d.nodeId });
      assertEquals(await b.c.trustedPeers(), []);
    });
  },
});

Deno.test({
  ...OPTS,
  name:
    "trust: revoked mid-transfer — the transfer's connection is reset at once, the peer is told, new dials fail",
  async fn() {
    await withNodes(2, async ([a, b]) => {
      await handshakeAndApprove(a, b);
      const { conn, peer } = await connectPair(a, b, 5400);
      const chunk = new Uint8Array(64 * 1024);
      let received = 0;
      const reading = (async () => {
        for (;;) {
          const c = await settleQuietly(peer.read({ timeoutMs: 30_000 }), "expected in test");
          if (!c) return; // end of stream or a reset: stop counting
          received += c.length;
        }
      })();
      let writeError: unknown;
      const writing = (async () => {
        try {
          for (;;) await conn.write(chunk, { timeoutMs: 30_000 });
        } catch (err) {
          writeError = err;
        }
      })();
      await waitFor("data to flow", () => Promise.resolve(received > 1024 * 1024));
      const revokedAt = Date.now();
      assertEquals(await b.c.revokeTrust(a.d.nodeId), { status: "revoked", node_id: a.d.nodeId });
      await writing;
      await reading;
      const cutMs = Date.now() - revokedAt;
      assert(writeError !== undefined, "the sender's writes failed");
      assert(cutMs < 1_000, `connection cut after ${cutMs} ms`);
      assertEquals(await b.c.trustedPeers(), []);
      await waitFor("A to learn of the revocation", async () => (await a.c.trustedPeers()).length === 0);
      const started = Date.now();
      const err = await assertRejects(() => a.c.dial(b.d.address, 5400, { timeoutMs: 20_000 }), Error);
      assert(Date.now() - started < 5_000, `refused quickly (${err.message})`);
      // A forgot B's route on the revoke message, and the registry no longer resolves a private B for it.
      assert(/connection refused|resolve denied/.test(err.message), err.message);
      assertEquals(await metric(b.d, "pilot_trust_peers", 'kind="trusted"'), 0);
      // Revoking again is an error, in the CLI's envelope.
      const cli = await runPilot(["untrust", String(a.d.nodeId), "--socket", b.d.socket, "--json"]);
      assertEquals(cli.code, 1);
      const env = JSON.parse(cli.stderr.trim().split("\n").pop()!);
      assertEquals([env.status, env.code], ["error", "connection_failed"]);
      assert(env.message.includes(`handshake revoke: node ${a.d.nodeId} was not trusted`), env.message);
    });
  },
});

Deno.test({
  ...OPTS,
  name: "trust: a forged relayed handshake is refused by the registry and never reaches the target",
  async fn() {
    await withNodes(2, async ([a, b], net) => {
      const mallory = new RegistryClient({
        address: net.registryAddr,
        identity: { nodeId: 0, seed: generateEd25519KeyPair().seed },
      });
      try {
        const reg = await mallory.register({ listenAddr: "127.0.0.1:1" });
        const m = reg.node_id;
        const target = b.d.nodeId;
        // A relayed signature made with some other key.
        const forged = toBase64(signEd25519(generateEd25519KeyPair().seed, utf8(`handshake:${m}:${target}`)));
        await assertRejects(
          () =>
            mallory.signed({
              type: "request_handshake",
              from_node_id: m,
              to_node_id: target,
              signature: forged,
            }),
          RegistryReplyError,
        );
        // Claiming to be A.
        const asA = toBase64(
          signEd25519(generateEd25519KeyPair().seed, utf8(`handshake:${a.d.nodeId}:${target}`)),
        );
        await assertRejects(
          () =>
            mallory.signed({
              type: "request_handshake",
              from_node_id: a.d.nodeId,
              to_node_id: target,
              signature: asA,
            }),
          RegistryReplyError,
        );
        // Several polls later B still has nothing pending; a genuine relayed request does arrive.
        await new Promise((r) => setTimeout(r, 1_000));
        assertEquals(await b.c.pendingHandshakes(), []);
        await mallory.requestHandshake(target, "genuine");
        const p = await waitFor(
          "the genuine relayed request",
          async () => (await b.c.pendingHandshakes()).find((e) => e.node_id === m),
        );
        assertEquals(p.justification, "genuine");
      } finally {
        mallory.close();
      }
    });
  },
});

Deno.test({
  ...OPTS,
  name: "trust: an untrusted SYN is refused with RST (dial error 'connection refused') and counted",
  async fn() {
    // A is public so B can reach it first; that teaches A's tunnel where B is.
    await withNodes(2, async ([a, b]) => {
      const echo = await b.c.dial(a.d.address, 7, { timeoutMs: 10_000 });
      await echo.close();
      await b.c.listen(5500);
      const started = Date.now();
      const err = await assertRejects(() => a.c.dial(b.d.address, 5500, { timeoutMs: 20_000 }), Error);
      assert(/connection refused/.test(err.message), err.message);
      assert(Date.now() - started < 5_000, "refused at once, not a dial timeout");
      await waitFor(
        "the refusal in /metrics",
        async () =>
          (await metric(b.d, "pilot_session_events_total", 'kind="synUntrusted"')) >= 1 &&
          (await metric(b.d, "pilot_trust_gate_refusals_total")) >= 1,
      );
      // The same dial succeeds once B trusts A.
      await handshakeAndApprove(a, b);
      const { conn, peer } = await connectPair(a, b, 5501);
      await conn.close();
      await peer.close();
    }, { daemonArgs: [["--public"], []] });
  },
});

Deno.test({
  ...OPTS,
  name:
    "trust: direct messages are validated — junk, wrong sender, bad signature, stale, replayed are dropped and counted",
  async fn() {
    // B is public so A can reach its port 444 without trust; A writes hand-made messages.
    await withNodes(2, async ([a, b]) => {
      const id = await loadIdentityFile(`${a.d.stateDir}/identity.json`);
      const now = Math.floor(Date.now() / 1000);
      const signed = (from: number, seed = id.seed) =>
        toBase64(signEd25519(seed, utf8(`handshake:${from}:${b.d.nodeId}`)));
      const valid: HandshakeMessage = {
        type: "handshake_request",
        node_id: a.d.nodeId,
        public_key: toBase64(id.publicKey),
        justification: "hand-made",
        signature: signed(a.d.nodeId),
        reason: "",
        timestamp: now,
      };
      const send = async (bytes: Uint8Array) => {
        const conn = await a.c.dial(b.d.address, 444, { timeoutMs: 10_000 });
        await conn.write(bytes);
        await conn.close();
      };
      const dropped = (reason: string) => metric(b.d, "pilot_handshake_dropped_total", `reason="${reason}"`);
      const cases: [Uint8Array, string][] = [
        [utf8("{not json"), "malformed"],
        [encodeHandshake({ ...valid, node_id: a.d.nodeId + 100 }), "source-mismatch"],
        [
          encodeHandshake({ ...valid, signature: signed(a.d.nodeId, generateEd25519KeyPair().seed) }),
          "bad-signature",
        ],
        [
          encodeHandshake({ ...valid, public_key: toBase64(generateEd25519KeyPair().publicKey) }),
          "key-mismatch",
        ],
        [encodeHandshake({ ...valid, public_key: "", signature: "" }), "unsigned"],
        [encodeHandshake({ ...valid, timestamp: now - 301 }), "too-old"],
        [encodeHandshake({ ...valid, timestamp: now + 60 }), "future"],
      ];
      for (const [bytes, reason] of cases) {
        await send(bytes);
        await waitFor(`a "${reason}" drop`, async () => (await dropped(reason)) === 1);
      }
      assertEquals(await b.c.pendingHandshakes(), []);
      await send(encodeHandshake(valid));
      const p = await waitFor("the valid request", () => pendingFrom(b, a));
      assertEquals([p.justification, p.public_key], ["hand-made", toBase64(id.publicKey)]);
      await send(encodeHandshake(valid));
      await waitFor("the replay to be dropped", async () => (await dropped("replay")) === 1);
      assertEquals(await metric(b.d, "pilot_handshake_processed_total", 'type="handshake_request"'), 1);
      // A signed accept B never asked for creates no trust (the reference would trust A here).
      await send(encodeHandshake({ ...valid, type: "handshake_accept", justification: "" }));
      await waitFor(
        "the unsolicited accept to be dropped",
        async () => (await dropped("unsolicited-accept")) === 1,
      );
      assertEquals(await b.c.trustedPeers(), []);
      // Unknown types are ignored.
      await send(encodeHandshake({ ...valid, type: "handshake_hello" }));
      await waitFor("the unknown type to be dropped", async () => (await dropped("unknown-type")) === 1);
    }, { daemonArgs: [[], ["--public"]] });
  },
});

Deno.test({
  ...OPTS,
  name: "trust: webhook events — received, pending, approved, auto_approved, revoked, revoked_by_peer",
  async fn() {
    const rxA = WebhookReceiver.start();
    const rxB = WebhookReceiver.start();
    try {
      await withNodes(2, async ([a, b]) => {
        const [ia, ib] = [a.d.nodeId, b.d.nodeId];
        await handshakeAndApprove(a, b, "hooks");
        await b.c.revokeTrust(ia);
        await rxA.waitFor(() => rxA.named("trust.revoked_by_peer").length === 1);
        // Asked again, and this time B asks back: both consented, no operator needed.
        await a.c.handshake(ib, "again", { timeoutMs: 30_000 });
        await waitFor("B to list A's second request", () => pendingFrom(b, a));
        await b.c.handshake(ia, "me too", { timeoutMs: 30_000 });
        await waitFor("A to trust B again", () => trusts(a, b));
        await rxB.waitFor(() => rxB.named("handshake.auto_approved").length === 1);
        const data = (name: string, rx = rxB) => rx.named(name).map((e) => e.data);
        assertEquals(data("handshake.received"), [
          { peer_node_id: ia, justification: "hooks" },
          { peer_node_id: ia, justification: "again" },
        ]);
        assertEquals(data("handshake.pending").length, 2);
        assertEquals(data("handshake.approved"), [{ peer_node_id: ia }]);
        assertEquals(data("trust.revoked"), [{ peer_node_id: ia }]);
        assertEquals(data("handshake.auto_approved"), [{ peer_node_id: ia, reason: "mutual" }]);
        assertEquals(data("trust.revoked_by_peer", rxA), [{ peer_node_id: ib }]);
        assertEquals(rxB.named("trust.revoked")[0].node_id, ib);
      }, { daemonArgs: [["--webhook", rxA.url], ["--webhook", rxB.url]] });
    } finally {
      await rxA.close();
      await rxB.close();
    }
  },
});
