/**
 * A fleet behind one NAT address (issue 16): 1,000 lightweight registry clients on
 * 127.0.0.1, each signing as the daemon does, register over three minutes and then
 * heartbeat and poll at the daemon's default cadence for an hour of fake time (the
 * registry runs in-process on an injected clock). None may be refused, and relayed trust
 * requests between some of them must arrive. Meanwhile one abusive client on the same
 * address sends as fast as it can: it is refused, the fleet is not.
 *
 * FLEET_NODES and FLEET_MINUTES scale it down for a quick look; the defaults are the issue's.
 */
import { assert, assertEquals } from "../assert.ts";
import { generateEd25519KeyPair, signEd25519Async } from "../../lib/crypto/ed25519.ts";
import { toBase64, utf8 } from "../../lib/bytes.ts";
import { handshakeChallenge, signRequest } from "../../lib/registry/auth.ts";
import { RegistryService } from "../../lib/registry/service.ts";
import type { WireMessage } from "../../lib/registry/wire.ts";
import { ADMIN_TOKEN, quiet, RawConn } from "./helpers.ts";
import { settleQuietly } from "../../lib/errors.ts";

const NODES = Number(Deno.env.get("FLEET_NODES") ?? 1_000);
const MINUTES = Number(Deno.env.get("FLEET_MINUTES") ?? 60);
/** The daemon's default heartbeat interval; a poll of each inbox follows every heartbeat. */
const HEARTBEAT_S = 30;
/** Registrations are spread over this long (a fleet booting behind one address). */
const REGISTER_OVER_S = 180;
/** Trust requests relayed between fleet members during the hour. */
const HANDSHAKES = 20;
/** The abuser floods during these minutes of the hour. */
const ABUSE_FROM_MIN = 10;
const ABUSE_TO_MIN = 12;
/** At least this many abusive requests per fake second (more while the fleet's requests are in flight). */
const ABUSE_PER_SECOND = 200;

/** A registry client as light as it gets: one connection, one key, lock-step calls. */
class SimNode {
  id = 0;
  readonly publicKey: string;
  private constructor(readonly conn: RawConn, readonly seed: Uint8Array, publicKey: Uint8Array) {
    this.publicKey = toBase64(publicKey);
  }

  static async open(port: number): Promise<SimNode> {
    const kp = generateEd25519KeyPair();
    return new SimNode(await RawConn.open(port), kp.seed, kp.publicKey);
  }

  #queue: Promise<unknown> = Promise.resolve();

  /** One request at a time on the connection, as the daemon's client does. */
  call(msg: WireMessage | (() => Promise<WireMessage>)): Promise<WireMessage> {
    const run = this.#queue.then(async () => this.conn.call(typeof msg === "function" ? await msg() : msg));
    this.#queue = settleQuietly(run, "reported elsewhere");
    return run;
  }

  /** Signs `msg` at `now` (the daemon's `auth` form) and sends it. */
  signed(msg: WireMessage, now: number): Promise<WireMessage> {
    return this.call(() => signRequest(msg, this.seed, now));
  }

  async register(now: number): Promise<WireMessage> {
    const r = await this.signed({ type: "register", public_key: this.publicKey, listen_addr: ":4000" }, now);
    if (r.type === "register_ok") this.id = r.node_id as number;
    return r;
  }

  async requestHandshake(to: number, now: number): Promise<WireMessage> {
    const sig = await signEd25519Async(this.seed, utf8(handshakeChallenge(this.id, to)));
    return await this.signed({
      type: "request_handshake",
      from_node_id: this.id,
      to_node_id: to,
      justification: "fleet test",
      signature: toBase64(sig),
    }, now);
  }
}

Deno.test({
  name:
    `fleet: ${NODES} nodes behind one address register, heartbeat and poll for ${MINUTES} fake minutes; an abuser on that address is refused, they never are`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let now = Date.now();
    const svc = await RegistryService.start({
      listen: { hostname: "127.0.0.1", port: 0 },
      dir: null,
      adminToken: ADMIN_TOKEN,
      clock: () => now,
      reapIntervalMs: 24 * 3_600_000, // maintenance is driven below, on the fake clock
      logger: quiet,
    });
    const port = svc.server.addr.port;
    const fleet: SimNode[] = [];
    const errors: string[] = [];
    const fail = (who: string, r: WireMessage) => {
      if (errors.length < 20) errors.push(`${who}: ${r.error} (${r.code}, ${r.reason ?? ""})`);
      else errors.push("…");
    };
    let abuser: SimNode | null = null;
    try {
      for (let i = 0; i < NODES; i++) fleet.push(await SimNode.open(port));
      const start = now;

      // Three minutes of registrations, evenly spread, all from 127.0.0.1.
      for (let i = 0; i < NODES; i++) {
        now = start + Math.floor((i * REGISTER_OVER_S * 1000) / NODES);
        const r = await fleet[i].register(now);
        if (r.type !== "register_ok") fail(`register ${i}`, r);
      }
      assertEquals(errors, [], "every registration went through");
      abuser = await SimNode.open(port);
      now += 1_000;
      assertEquals((await abuser.register(now)).type, "register_ok");

      // Relayed trust requests: pairs far apart in the fleet, sent during the hour.
      const pairs = Array.from({ length: Math.min(HANDSHAKES, NODES >> 1) }, (_, k) => {
        const a = (k * 37) % NODES;
        return { a, b: (a + (NODES >> 1)) % NODES, atS: 60 + k * 97, sent: false, arrived: false };
      });

      const hourStart = now;
      const abuse = { sent: 0, refused: 0, byReason: new Map<string, number>() };
      let lastMaintain = now;
      for (let s = 0; s < MINUTES * 60; s++) {
        now = hourStart + s * 1000;
        if (now - lastMaintain >= 60_000) {
          await svc.registry.maintain(now);
          lastMaintain = now;
        }
        // The nodes whose heartbeat falls in this second: heartbeat, then poll both inboxes.
        const due = fleet.filter((_, i) => i % HEARTBEAT_S === s % HEARTBEAT_S);
        const work = Promise.all(due.map(async (n) => {
          const hb = await n.signed({ type: "heartbeat", node_id: n.id }, now);
          if (hb.type !== "heartbeat_ok") fail(`heartbeat ${n.id}`, hb);
          const ph = await n.signed({ type: "poll_handshakes", node_id: n.id }, now);
          if (ph.type !== "poll_handshakes_ok") fail(`poll_handshakes ${n.id}`, ph);
          for (const req of (ph.requests as { from_node_id: number }[] | undefined) ?? []) {
            const p = pairs.find((p) => fleet[p.a].id === req.from_node_id && fleet[p.b].id === n.id);
            if (p) p.arrived = true;
          }
          const pi = await n.signed({ type: "poll_invites", node_id: n.id }, now);
          if (pi.type !== "poll_invites_ok") fail(`poll_invites ${n.id}`, pi);
        }));
        const sending = pairs.filter((p) => !p.sent && p.atS === s).map(async (p) => {
          p.sent = true;
          const r = await fleet[p.a].requestHandshake(fleet[p.b].id, now);
          if (r.type !== "request_handshake_ok") fail(`request_handshake ${fleet[p.a].id}`, r);
        });
        // The abuser: one connection on the same address, as fast as it goes while the fleet works.
        const flooding = s >= ABUSE_FROM_MIN * 60 && s < ABUSE_TO_MIN * 60 && abuser !== null;
        let done = false;
        const flood = flooding
          ? (async () => {
            const victim = fleet[s % NODES].id;
            for (let k = 0; !done || k < ABUSE_PER_SECOND; k++) {
              const pick = k % 4;
              const r = pick === 0
                ? await abuser!.signed({ type: "heartbeat", node_id: abuser!.id }, now)
                : pick === 1
                ? await abuser!.call({ type: "lookup", node_id: victim })
                : pick === 2
                ? await abuser!.signed({
                  type: "register",
                  public_key: toBase64(generateEd25519KeyPair().publicKey),
                }, now)
                // Claims a fleet member's id with a signature it cannot make: must not drain the victim.
                : await abuser!.conn.call(
                  await signRequest({ type: "heartbeat", node_id: victim }, abuser!.seed, now),
                );
              abuse.sent++;
              if (r.code === "throttled") {
                abuse.refused++;
                const key = `${["heartbeat", "lookup", "register", "forged"][pick]}/${r.reason}`;
                abuse.byReason.set(key, (abuse.byReason.get(key) ?? 0) + 1);
                assert(
                  typeof r.retry_after === "number" && r.retry_after >= 1,
                  "a refusal says when to retry",
                );
              }
            }
          })()
          : Promise.resolve();
        await work;
        await Promise.all(sending);
        done = true;
        await flood;
        if (errors.length > 0) break;
      }
      console.log(
        `fleet: ${NODES} nodes, ${MINUTES} min; abuser sent ${abuse.sent}, refused ${abuse.refused} ` +
          JSON.stringify(Object.fromEntries(abuse.byReason)) + `; registry refusals ` +
          JSON.stringify(Object.fromEntries(svc.registry.refusals)),
      );
      assertEquals(errors, [], "no fleet request was refused");
      const sent = pairs.filter((p) => p.sent);
      assert(sent.length > 0);
      assertEquals(sent.filter((p) => !p.arrived).map((p) => [fleet[p.a].id, fleet[p.b].id]), []);
      const offline = fleet.filter((n) => !svc.registry.state.nodes.get(n.id)?.online).map((n) => n.id);
      assertEquals(offline, [], "every fleet node is still online");
      if (MINUTES > ABUSE_FROM_MIN) {
        assert(abuse.refused > abuse.sent / 2, `the abuser was refused (${abuse.refused} of ${abuse.sent})`);
        for (const kind of ["heartbeat", "lookup", "register"]) {
          assert([...abuse.byReason.keys()].some((k) => k.startsWith(kind)), `abusive ${kind}s refused`);
        }
      }
    } finally {
      for (const n of fleet) n.conn.close();
      abuser?.conn.close();
      await svc.close();
    }
  },
});
