/**
 * The reference pilotctl's commands that `pilot` adds (docs/protocol/cli.md §4.3, §4.7–§4.9), end to end: a
 * registry and daemons as real `pilot` subprocesses on loopback, each command run as its own
 * `pilot … --json` process against a daemon's socket, checking the exit status, the envelope
 * and what the registry or the daemon did.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { type PilotProcess, startPilot, type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { connect } from "../../lib/sdk/mod.ts";
import { settleQuietly } from "../../lib/errors.ts";

const ADMIN_TOKEN = "pilotctl-commands-admin-token";

interface Result {
  code: number;
  data: Record<string, unknown>;
  error?: { code: string; message: string; hint?: string };
  stdout: string;
  stderr: string;
}

/** `pilot <args> --json --socket <d.socket>`: the parsed envelope (data on success, error otherwise). */
async function pilot(d: TestDaemon, args: string[], env?: Record<string, string>): Promise<Result> {
  const run = await runPilot([...args, "--json", "--socket", d.socket], { env, timeoutMs: 60_000 });
  const r: Result = { code: run.code, data: {}, stdout: run.stdout, stderr: run.stderr };
  if (run.code === 0) {
    const envelope = JSON.parse(run.stdout.trim());
    assertEquals(envelope.status, "ok", run.stdout);
    r.data = envelope.data;
  } else {
    const line = run.stderr.trim().split("\n").pop() ?? "";
    const envelope = JSON.parse(line);
    assertEquals(envelope.status, "error", run.stderr);
    r.error = envelope;
  }
  return r;
}

/** Like {@link pilot}, but the command must succeed. */
async function ok(
  d: TestDaemon,
  args: string[],
  env?: Record<string, string>,
): Promise<Record<string, unknown>> {
  const r = await pilot(d, args, env);
  assertEquals(r.code, 0, `pilot ${args.join(" ")}: ${r.stderr}`);
  return r.data;
}

async function withNetwork(
  count: number,
  fn: (d: TestDaemon[], net: TestNetwork) => Promise<void>,
  daemonArgs: string[] = [],
): Promise<void> {
  const net = await TestNetwork.start(["--admin-token", ADMIN_TOKEN]);
  const daemons: TestDaemon[] = [];
  try {
    for (let i = 0; i < count; i++) daemons.push(await net.addDaemon(`n${i}`, daemonArgs));
    await fn(daemons, net);
  } catch (err) {
    for (const [i, d] of daemons.entries()) {
      console.error(`--- n${i} stderr (last lines) ---\n${d.process.stderrLines.slice(-30).join("\n")}`);
    }
    throw err;
  } finally {
    await net.close();
  }
}

async function readConfig(d: TestDaemon): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(`${d.stateDir}/config.json`));
  } catch {
    return {};
  }
}

Deno.test("node admin: hostname, visibility, find, lookup, tags, register, deregister", async () => {
  await withNetwork(2, async ([a, b]) => {
    // set-hostname: the registry's name, and `hostname` in the node's config.json.
    assertEquals(await ok(a, ["set-hostname", "alice"]), { hostname: "alice", node_id: a.nodeId });
    assertEquals((await readConfig(a)).hostname, "alice");

    // A private node is not found by a node that does not trust it…
    const hidden = await pilot(b, ["find", "alice"]);
    assertEquals(hidden.code, 1);
    assertEquals(hidden.error?.code, "not_found");
    assertMatch(hidden.error?.hint ?? "", /handshake/);
    // …and is once it is public.
    assertEquals(await ok(a, ["set-public"]), {
      type: "set_visibility_ok",
      node_id: a.nodeId,
      visibility: "public",
    });
    assertEquals(await ok(b, ["find", "alice"]), {
      hostname: "alice",
      node_id: a.nodeId,
      address: a.address,
      public: true,
    });

    // lookup goes through the daemon to the registry.
    const looked = await ok(b, ["lookup", String(a.nodeId)]);
    assertEquals(looked.type, "lookup_ok");
    assertEquals(looked.node_id, a.nodeId);
    assertEquals(looked.address, a.address);
    assertEquals(looked.hostname, "alice");
    assertEquals(looked.public, true);
    assertEquals(typeof looked.public_key, "string");
    assertEquals(Array.isArray(looked.networks), true);

    // Tags: 1 to 3, normalised by the registry, visible in lookup; clear-tags empties them.
    assertEquals(await ok(a, ["set-tags", "web", "#gpu"]), { node_id: a.nodeId, tags: ["web", "gpu"] });
    assertEquals((await ok(b, ["lookup", a.address])).tags, ["web", "gpu"]);
    const tooMany = await pilot(a, ["set-tags", "a", "b", "c", "d"]);
    assertEquals([tooMany.code, tooMany.error?.code], [64, "invalid_argument"]);
    const none = await pilot(a, ["set-tags"]);
    assertEquals(none.code, 64);
    assertEquals(await ok(a, ["clear-tags"]), { tags: [] });
    assertEquals((await ok(b, ["lookup", String(a.nodeId)])).tags, undefined);

    // set-private hides the node again; clear-hostname clears the name and the config key.
    assertEquals((await ok(a, ["set-private"])).visibility, "private");
    assertEquals((await pilot(b, ["find", "alice"])).error?.code, "not_found");
    assertEquals(await ok(a, ["clear-hostname"]), { hostname: "" });
    assertEquals((await readConfig(a)).hostname, undefined);
    assertEquals((await ok(b, ["lookup", String(a.nodeId)])).hostname, undefined);

    // register: the daemon registers again with its own key and keeps its id.
    const reg = await ok(a, ["register"]);
    assertEquals(reg.node_id, a.nodeId);
    assertEquals(reg.address, a.address);
    const withAddr = await pilot(a, ["register", "127.0.0.1:9999"]);
    assertEquals([withAddr.code, withAddr.error?.code], [64, "invalid_argument"]);

    // lookup of an unknown node, and of something that is not a node id.
    assertEquals((await pilot(a, ["lookup", "424242"])).error?.code, "not_found");
    assertEquals((await pilot(a, ["lookup", "not-a-node"])).code, 64);

    // deregister: the registry forgets b (until its daemon registers again).
    assertEquals(await ok(b, ["deregister"]), { type: "deregister_ok" });
    const gone = await pilot(a, ["lookup", String(b.nodeId)]);
    assertEquals(gone.code, 1);
  });
});

Deno.test("network: create, list, join, members, roles, policy, invitations, rename, kick, leave, delete; audit", async () => {
  await withNetwork(3, async ([a, b, c]) => {
    const token = { PILOT_ADMIN_TOKEN: ADMIN_TOKEN };
    // Usage errors.
    assertEquals((await pilot(a, ["network"])).code, 64);
    const bogus = await pilot(a, ["network", "frobnicate"]);
    assertEquals(bogus.code, 64);
    assertMatch(bogus.error?.message ?? "", /list, join, leave/);
    assertEquals((await pilot(a, ["network", "join", "x"])).code, 64);
    assertEquals((await pilot(a, ["network", "create"])).code, 64);

    // create needs the admin token: without it (and none on the daemon) it is auth_required.
    const denied = await pilot(a, ["network", "create", "--name", "lab"], { PILOT_ADMIN_TOKEN: "" });
    assertEquals([denied.code, denied.error?.code], [1, "auth_required"]);
    const created = await ok(a, ["network", "create", "--name", "lab", "--enterprise"], token);
    assertEquals(created.type, "create_network_ok");
    const lab = Number(created.network_id);
    assert(lab > 0);
    const listed = await ok(b, ["network", "list"]);
    assertEquals(listed.type, "list_networks_ok");
    assert((listed.networks as { id: number; name: string }[]).some((n) => n.id === lab && n.name === "lab"));

    // The creator is the owner; b joins an open network.
    assertEquals((await ok(a, ["network", "role", String(lab), String(a.nodeId)])).role, "owner");
    const joined = await ok(b, ["network", "join", String(lab)]);
    assertEquals([joined.type, joined.network_id], ["join_network_ok", lab]);
    const members = await ok(a, ["network", "members", String(lab)]);
    assertEquals(members.type, "list_nodes_ok");
    const ids = (members.nodes as { node_id: number }[]).map((n) => n.node_id).sort((x, y) => x - y);
    assertEquals(ids, [a.nodeId, b.nodeId].sort((x, y) => x - y));

    // Role changes are signed by the owner's daemon: no admin token needed.
    const noToken = { PILOT_ADMIN_TOKEN: "" };
    assertEquals((await ok(a, ["network", "promote", String(lab), String(b.nodeId)], noToken)).role, "admin");
    assertEquals((await ok(c, ["network", "role", String(lab), String(b.nodeId)])).role, "admin");
    await ok(a, ["network", "demote", String(lab), String(b.nodeId)], noToken);
    assertEquals((await ok(a, ["network", "role", String(lab), String(b.nodeId)])).role, "member");
    // A plain member may not promote: the registry refuses, signed as b.
    const refused = await pilot(b, ["network", "promote", String(lab), String(b.nodeId)], noToken);
    assertEquals(refused.code, 1);

    // Policy: set with flags, read without.
    await ok(
      a,
      ["network", "policy", String(lab), "--max-members", "5", "--description", "the lab"],
      noToken,
    );
    const policy = await ok(c, ["network", "policy", String(lab)]);
    assertEquals([policy.max_members, policy.description], [5, "the lab"]);
    assertEquals((await pilot(a, ["network", "policy", String(lab), "--allowed-ports", "80,x"])).code, 64);

    // Rename, kick, leave.
    await ok(a, ["network", "rename", String(lab), "lab2"], noToken);
    const renamed = await ok(a, ["network", "list"]);
    assert(
      (renamed.networks as { id: number; name: string }[]).some((n) => n.id === lab && n.name === "lab2"),
    );
    await ok(a, ["network", "kick", String(lab), String(b.nodeId)], noToken);
    const afterKick = await ok(a, ["network", "members", String(lab)]);
    assertEquals((afterKick.nodes as { node_id: number }[]).map((n) => n.node_id), [a.nodeId]);
    await ok(c, ["network", "join", String(lab)]);
    const left = await ok(c, ["network", "leave", String(lab)]);
    assertEquals([left.type, left.network_id], ["leave_network_ok", lab]);

    // Invitations: an invite-only (enterprise) network; b accepts, c declines.
    const inv = await ok(
      a,
      ["network", "create", "--name", "club", "--join-rule", "invite", "--enterprise"],
      token,
    );
    const club = Number(inv.network_id);
    const invited = await ok(a, ["network", "invite", String(club), String(b.nodeId)]);
    assertEquals([invited.type, invited.target_node_id], ["invite_to_network_ok", b.nodeId]);
    await ok(a, ["network", "invite", String(club), String(c.nodeId)]);
    const pendingB = await ok(b, ["network", "invites"]);
    assertEquals(pendingB.type, "poll_invites_ok");
    assert((pendingB.invites as { network_id: number }[]).some((i) => i.network_id === club));
    const accepted = await ok(b, ["network", "accept", String(club)]);
    assertEquals([accepted.accepted, accepted.network_id], [true, club]);
    await ok(c, ["network", "invites"]);
    const declined = await ok(c, ["network", "reject", String(club)]);
    assertEquals([declined.accepted, declined.network_id], [false, club]);
    const clubMembers = await ok(a, ["network", "members", String(club)]);
    const clubIds = (clubMembers.nodes as { node_id: number }[]).map((n) => n.node_id).sort((x, y) => x - y);
    assertEquals(clubIds, [a.nodeId, b.nodeId].sort((x, y) => x - y));

    // Delete, then the audit log (admin token) shows what happened.
    await ok(a, ["network", "delete", String(club)], noToken);
    const afterDelete = await ok(a, ["network", "list"]);
    assert(!(afterDelete.networks as { id: number }[]).some((n) => n.id === club));
    const audit = await ok(a, ["audit"], token);
    assertEquals(audit.type, "get_audit_log_ok");
    const actions = (audit.entries as { action: string }[]).map((e) => e.action);
    assert(actions.some((x) => /network\.created|create/.test(x)), actions.join(","));
    assert(actions.some((x) => /delete/.test(x)), actions.join(","));
    const perNet = await ok(a, ["audit", "--network", String(lab)], token);
    assert((perNet.entries as { network_id?: number }[]).every((e) => e.network_id === lab));
    const auditDenied = await pilot(a, ["audit"], noToken);
    assertEquals([auditDenied.code, auditDenied.error?.code], [1, "auth_required"]);
  });
});

Deno.test("diagnostics: traceroute, peers --search, connections, disconnect", async () => {
  await withNetwork(2, async ([a, b]) => {
    const trace = await ok(a, ["traceroute", b.address, "--timeout", "30s"]);
    assertEquals(trace.target, b.address);
    assert(typeof trace.setup_ms === "number" && trace.setup_ms > 0);
    const samples = trace.rtt_samples as { rtt_ms?: number; bytes?: number; error?: string }[];
    assertEquals(samples.length, 3);
    for (const s of samples) {
      assertEquals(s.error, undefined);
      assertEquals(s.bytes, "trace-1".length);
      assert(s.rtt_ms! > 0);
    }
    // Only full addresses: a node id or a hostname is a usage error.
    assertEquals((await pilot(a, ["traceroute", String(b.nodeId)])).code, 64);

    // peers: the traceroute made b a tunnel peer of a.
    const peers = await ok(a, ["peers"]);
    const list = peers.peers as { node_id: number; endpoint: string }[];
    assert(list.some((p) => p.node_id === b.nodeId));
    assertEquals(peers.total, list.length);
    const found = await ok(a, ["peers", "--search", String(b.nodeId)]);
    assert((found.peers as { node_id: number }[]).every((p) => String(p.node_id).includes(String(b.nodeId))));
    assert(Number(found.total) >= 1);
    const endpoint = list.find((p) => p.node_id === b.nodeId)!.endpoint;
    assertEquals(((await ok(a, ["peers", "--search", endpoint.toUpperCase()])).total as number) >= 1, true);
    assertEquals(await ok(a, ["peers", "--search", "no-such-peer"]), { peers: [], total: 0 });

    // connections and disconnect: a connection held by another IPC client (this test's).
    const client = await connect(a.socket, { timeoutMs: 5_000 });
    try {
      const conn = await client.dial(b.address, 7, { timeoutMs: 30_000 });
      const conns = await ok(a, ["connections"]);
      const mine =
        (conns.connections as { id: number; remote_addr: string; remote_port: number; state: string }[])
          .find((x) => x.id === conn.id);
      assert(mine, JSON.stringify(conns));
      assertEquals([mine.remote_addr, mine.remote_port, mine.state], [b.address, 7, "ESTABLISHED"]);
      assertEquals(conns.total, (conns.connections as unknown[]).length);

      assertEquals(await ok(a, ["disconnect", String(conn.id)]), { conn_id: conn.id });
      // The holder sees the end of its stream.
      assertEquals(await conn.read({ timeoutMs: 10_000 }), null);
      const after = await ok(a, ["connections"]);
      const state = (after.connections as { id: number; state: string }[]).find((x) => x.id === conn.id)
        ?.state;
      assert(state === undefined || state !== "ESTABLISHED", `still ${state}`);
    } finally {
      await client.close();
    }
    const unknown = await pilot(a, ["disconnect", "987654"]);
    assertEquals([unknown.code, unknown.error?.code], [1, "not_found"]);
    assertEquals((await pilot(a, ["disconnect", "x"])).code, 64);
  }, ["--public"]);
});

Deno.test("rotate-key: refused while the daemon runs; rotated at the registry and in identity.json; the restart adopts it", async () => {
  await withNetwork(2, async ([a, b], net) => {
    const flags = ["--state", a.stateDir, "--registry", net.registryAddr];
    const oldKey = (await ok(b, ["lookup", String(a.nodeId)])).public_key;
    const oldFile = await Deno.readTextFile(`${a.stateDir}/identity.json`);

    const busy = await pilot(a, ["rotate-key", String(a.nodeId), "a@example.com", ...flags]);
    assertEquals([busy.code, busy.error?.code], [1, "already_exists"]);
    assertEquals(await Deno.readTextFile(`${a.stateDir}/identity.json`), oldFile);

    await a.process.stop();
    // The wrong node id: the registry refuses a rotation not signed by that node's key; nothing changes.
    const wrong = await pilot(a, ["rotate-key", String(b.nodeId), ...flags]);
    assertEquals([wrong.code, wrong.error?.code], [1, "connection_failed"]);
    assertEquals(await Deno.readTextFile(`${a.stateDir}/identity.json`), oldFile);
    assertEquals((await ok(b, ["lookup", String(b.nodeId)])).node_id, b.nodeId);

    const rotated = await ok(a, ["rotate-key", String(a.nodeId), "a@example.com", ...flags]);
    assertEquals([rotated.type, rotated.node_id], ["rotate_key_ok", a.nodeId]);
    assert(rotated.public_key !== oldKey);
    assertEquals(await Deno.readTextFile(`${a.stateDir}/identity.json.old`), oldFile);
    const file = JSON.parse(await Deno.readTextFile(`${a.stateDir}/identity.json`));
    assertEquals(file.public_key, rotated.public_key);
    assertEquals((await ok(b, ["lookup", String(a.nodeId)])).public_key, rotated.public_key);

    // The restarted daemon registers with the new key and keeps its node id.
    await net.restartDaemon(a);
    const info = await ok(a, ["info"]);
    assertEquals([info.node_id, info.public_key], [a.nodeId, rotated.public_key]);
    const again = await pilot(a, ["rotate-key", String(a.nodeId), "--state", a.stateDir]);
    assertEquals([again.code, again.error?.code], [1, "already_exists"]);
  });
});

Deno.test({
  name:
    "pilot up node: set-hostname stores the name in the node's state, find, traceroute, peers, network list, lookup",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "pilot-home-" });
    const env = { HOME: home, PILOT_SOCKET: join(home, "up.sock") };
    const procs: PilotProcess[] = [];
    try {
      const up = await startPilot(["up", "--socket", env.PILOT_SOCKET, "--http", "127.0.0.1:0"], env);
      procs.push(up);
      const node2 = await startPilot(String(up.ready.second_node).split(" ").slice(1), env);
      procs.push(node2);
      const upNode = { socket: env.PILOT_SOCKET } as TestDaemon;
      const second = { socket: String(node2.ready.socket) } as TestDaemon;
      const upAddr = String(up.ready.address);

      // The hostname goes to the up node's config (~/.pilot/up), not ~/.pilot.
      await ok(upNode, ["set-hostname", "upnode"], env);
      const cfg = JSON.parse(await Deno.readTextFile(join(home, ".pilot", "up", "config.json")));
      assertEquals(cfg.hostname, "upnode");
      await assertRejects(() => Deno.stat(join(home, ".pilot", "config.json")), Deno.errors.NotFound);

      assertEquals((await ok(second, ["find", "upnode"], env)).address, upAddr);
      const trace = await ok(second, ["traceroute", upAddr], env);
      assertEquals((trace.rtt_samples as unknown[]).length, 3);
      assert(
        (await ok(second, ["peers"], env) as { peers: { node_id: number }[] }).peers.some((p) =>
          p.node_id === Number(up.ready.node_id)
        ),
      );
      const nets = await ok(second, ["network", "list"], env);
      assertEquals(nets.type, "list_networks_ok");
      assertEquals((await ok(upNode, ["lookup", String(up.ready.node_id)], env)).hostname, "upnode");
    } finally {
      for (const p of procs) await p.stop();
      await settleQuietly(Deno.remove(home, { recursive: true }), "cleanup");
    }
  },
});
