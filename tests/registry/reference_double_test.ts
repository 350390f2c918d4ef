/**
 * The reference-registry double answers as the recorded reference did: every request of
 * tests/fixtures/reference/registry/transcript.json, replayed in order against a fresh
 * double, gets the recorded reply byte for byte (only clock readings are taken over from
 * the recording). And our registry client, in `auto` mode, finds the dialect of the
 * double and of our own registry (strict and `--compat reference`) from the heartbeat
 * probe, and signs every later call accordingly.
 */
import { assert, assertEquals } from "../assert.ts";
import { fromBase64, toBase64 } from "../../lib/bytes.ts";
import { generateEd25519KeyPair } from "../../lib/crypto/ed25519.ts";
import {
  REFERENCE_SIGNATURE_REQUIRED,
  RegistryClient,
  RegistryReplyError,
} from "../../lib/registry/client.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ReferenceRegistryDouble } from "../helpers/reference_registry.ts";
import { cleanup, startRegistry } from "./helpers.ts";

const TRANSCRIPT = new URL("../fixtures/reference/registry/transcript.json", import.meta.url);
const SESSION = new URL("../fixtures/reference/registry/daemon_session.json", import.meta.url);

interface Exchange {
  step: string;
  request: WireMessage;
  request_frame: string;
  reply: WireMessage;
  reply_frame: string;
}

/** Reply keys that carry the registry's clock, which no replay can reproduce. */
const CLOCK_KEYS = new Set(["time", "timestamp", "created", "last_seen"]);

/** `ours` with every clock reading replaced by the recorded one at the same place. */
function withRecordedClock(ours: unknown, recorded: unknown): unknown {
  if (Array.isArray(ours) && Array.isArray(recorded)) {
    return ours.map((v, i) => withRecordedClock(v, recorded[i]));
  }
  if (ours && recorded && typeof ours === "object" && typeof recorded === "object") {
    const r = recorded as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(ours).map((
        [k, v],
      ) => [k, CLOCK_KEYS.has(k) && k in r ? r[k] : withRecordedClock(v, r[k])]),
    );
  }
  return ours;
}

async function transcript(): Promise<{ exchanges: Exchange[]; admin_token: string }> {
  return JSON.parse(await Deno.readTextFile(TRANSCRIPT));
}

Deno.test("reference double: replies to the recorded requests byte for byte", async () => {
  const t = await transcript();
  assert(t.exchanges.length >= 50, "transcript too short");
  const double = ReferenceRegistryDouble.start({ adminToken: t.admin_token, listen: false });
  for (const e of t.exchanges) {
    // The recorded frame is what was sent; the JSON beside it must say the same.
    const sent = fromBase64(e.request_frame);
    assertEquals(JSON.parse(new TextDecoder().decode(sent.subarray(4))), e.request, e.step);
    const reply = double.handle(e.request, "127.0.0.1", 50_000);
    const frame = ReferenceRegistryDouble.frame(withRecordedClock(reply, e.reply) as WireMessage);
    assertEquals(
      toBase64(frame),
      e.reply_frame,
      `${e.step}: ${JSON.stringify(reply)} vs ${JSON.stringify(e.reply)}`,
    );
  }
});

Deno.test("reference double: replays a recorded session of our daemon and a reference daemon byte for byte", async () => {
  // Recorded through a proxy: our daemon (auto dialect) and a reference daemon on one reference registry,
  // with node settings, networks, and a handshake relayed from ours to the private reference node.
  const session: { exchanges: (Exchange & { conn: number })[] } = JSON.parse(
    await Deno.readTextFile(SESSION),
  );
  const double = ReferenceRegistryDouble.start({ adminToken: "fixture-admin-token", listen: false });
  const types = new Set<string>();
  for (const [i, e] of session.exchanges.entries()) {
    const reply = double.handle(e.request, "127.0.0.1", 50_000);
    const frame = ReferenceRegistryDouble.frame(withRecordedClock(reply, e.reply) as WireMessage);
    assertEquals(
      toBase64(frame),
      e.reply_frame,
      `#${i} conn ${e.conn} ${e.request.type}: ${JSON.stringify(reply)}`,
    );
    types.add(String(e.request.type));
  }
  for (
    const t of [
      "register",
      "heartbeat",
      "poll_handshakes",
      "request_handshake",
      "respond_handshake",
      "join_network",
    ]
  ) {
    assert(types.has(t), `session lacks ${t}`);
  }
});

Deno.test("reference double: the recorded refusal of our signed form is the one the client keys on", async () => {
  const t = await transcript();
  for (const step of ["heartbeat strict-signed", "set_visibility strict-signed", "resolve strict-signed"]) {
    const e = t.exchanges.find((x) => x.step === step)!;
    assert(e.request.auth, `${step} carried our auth form`);
    assertEquals(e.reply, { type: "error", error: REFERENCE_SIGNATURE_REQUIRED }, step);
  }
  // Registration, unsigned or signed our way, is accepted alike.
  for (const step of ["register unsigned", "register strict-signed"]) {
    assertEquals(t.exchanges.find((x) => x.step === step)!.reply.type, "register_ok", step);
  }
});

function newIdentity() {
  return { nodeId: 0, seed: generateEd25519KeyPair().seed };
}

Deno.test("registry client auto: detects the reference dialect and signs every call in it", async () => {
  const double = ReferenceRegistryDouble.start({ adminToken: "t" });
  const client = new RegistryClient({ address: double.address, identity: newIdentity(), signing: "auto" });
  try {
    const reg = await client.register({ listenAddr: "127.0.0.1:41000", hostname: "auto-ref" });
    assertEquals(reg.hostname, "auto-ref");
    assertEquals(client.signing, "reference");
    // The probe: our form refused with the reference's text, then the static form accepted.
    const beats = double.requests("heartbeat");
    assertEquals(beats.map((b) => b.reply.type), ["error", "heartbeat_ok"]);
    assertEquals(beats[0].reply.error, REFERENCE_SIGNATURE_REQUIRED);
    await client.heartbeat();
    await client.setVisibility(true);
    await client.setHostname("auto-ref-2");
    await client.setTags(["a", "b"]);
    await client.resolve(reg.node_id);
    const netId = double.createNetwork("auto-net", reg.node_id);
    await client.leaveNetwork(netId);
    await client.joinNetwork(netId);
    await client.pollHandshakes();
    assertEquals(double.node(reg.node_id), {
      public: true,
      hostname: "auto-ref-2",
      tags: ["a", "b"],
      networks: [0, netId],
    });
    // A re-registration probes again; a call made meanwhile keeps the detected form.
    const [again] = await Promise.all([
      client.register({ listenAddr: "127.0.0.1:41000" }),
      client.setTags(["during", "probe"]),
    ]);
    assertEquals(again.node_id, reg.node_id);
    assertEquals(double.node(reg.node_id)!.tags, ["during", "probe"]);
    assertEquals(client.signing, "reference");
    // After the probes nothing was refused and nothing but registrations and probes carried our auth form.
    const after = double.log.slice(double.log.indexOf(beats[1]) + 1);
    const probes = after.filter((e, i) =>
      e.request.type === "heartbeat" && after[i - 1]?.request.type === "set_tags"
    );
    assertEquals(probes.map((e) => e.reply.error), [REFERENCE_SIGNATURE_REQUIRED]);
    const rest = after.filter((e) => !probes.includes(e) && e.request.type !== "register");
    assertEquals(rest.filter((e) => e.reply.type === "error").map((e) => e.reply), []);
    assert(rest.every((e) => e.request.auth === undefined));
  } finally {
    client.close();
    double.close();
  }
});

Deno.test("registry client auto: stays strict on our registry, in strict and in --compat reference", async () => {
  for (const compat of ["strict", "reference"] as const) {
    const reg = await startRegistry({ compat });
    const client = new RegistryClient({ address: reg.address, identity: newIdentity(), signing: "auto" });
    try {
      await client.register({ listenAddr: "127.0.0.1:41001" });
      assertEquals(client.signing, "strict", compat);
      await client.setVisibility(true);
      await client.setTags(["x"]);
    } finally {
      client.close();
      await reg.close();
      await cleanup(reg.dir);
    }
  }
});

Deno.test("registry client: a fixed strict mode stays refused by the reference (no silent switch)", async () => {
  const double = ReferenceRegistryDouble.start();
  const client = new RegistryClient({ address: double.address, identity: newIdentity(), signing: "strict" });
  try {
    await client.register({ listenAddr: "127.0.0.1:41002" });
    assertEquals(client.signing, "strict");
    const err = await client.heartbeat().then(() => null, (e) => e);
    assert(err instanceof RegistryReplyError);
    assertEquals(err.message, REFERENCE_SIGNATURE_REQUIRED);
  } finally {
    client.close();
    double.close();
  }
});

Deno.test("registry client auto: re-detects at every registration (registry swapped at one address)", async () => {
  const double = ReferenceRegistryDouble.start();
  const port = Number(double.address.split(":")[1]);
  const client = new RegistryClient({
    address: double.address,
    identity: newIdentity(),
    signing: "auto",
    reconnectAttempts: 20,
  });
  let reg: Awaited<ReturnType<typeof startRegistry>> | undefined;
  try {
    await client.register({ listenAddr: "127.0.0.1:41003" });
    assertEquals(client.signing, "reference");
    double.close();
    // Our registry takes over the address; the next registration finds the strict dialect.
    reg = await startRegistry({ compat: "strict", listen: { hostname: "127.0.0.1", port } });
    await client.register({ listenAddr: "127.0.0.1:41003" });
    assertEquals(client.signing, "strict");
    await client.heartbeat();
  } finally {
    client.close();
    double.close();
    if (reg) {
      await reg.close();
      await cleanup(reg.dir);
    }
  }
});
