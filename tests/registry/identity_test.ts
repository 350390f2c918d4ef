/**
 * Identity integration end to end on an in-process registry over TCP: the identity
 * webhook at registration (allow, deny, error status, timeout), external ids,
 * IdP settings and `validate_token` against a JWKS from a local Hono app,
 * blueprints with role pre-assignments, directory sync, and all of it surviving a
 * restart (it is event-sourced state).
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { RegistryClient, RegistryReplyError } from "../../lib/registry/client.ts";
import { ADMIN_TOKEN, cleanup, newClient, RawConn, registeredClient, startRegistry } from "./helpers.ts";

/** A Hono app on loopback: an identity verifier (`POST /verify`) and a JWKS (`GET /jwks`). */
async function startIdp() {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
  const seen: string[] = [];
  const app = new Hono();
  app.post("/verify", async (c) => {
    const { token } = await c.req.json();
    seen.push(token);
    if (token === "slow") await new Promise((r) => setTimeout(r, 2000));
    if (token === "broken") return c.text("oops", 500);
    if (token.startsWith("good:")) return c.json({ verified: true, external_id: token.slice(5) });
    return c.json({ verified: false, error: "token revoked" });
  });
  app.get("/jwks", (c) => c.json({ keys: [jwk] }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const sign = (aud: string) =>
    new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("alice").setIssuer(
      "https://idp",
    )
      .setAudience(aud).setExpirationTime("10m").sign(privateKey);
  return { server, base, seen, sign };
}

Deno.test("identity webhook at registration: allow stores the external id, deny/error/timeout refuse", async () => {
  const idp = await startIdp();
  const reg = await startRegistry({ identity: { webhookTimeoutMs: 500 } });
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const raw = await RawConn.open(reg.addr.port);
  try {
    // Without a configured URL the token is ignored.
    const early = newClient(reg.address);
    assertEquals(
      (await early.register({ listenAddr: ":4000", identityToken: "good:x" })).external_id,
      undefined,
    );
    assertEquals(idp.seen.length, 0);
    // Only the admin sets the URL.
    assertMatch(
      String((await raw.call({ type: "set_identity_webhook", url: `${idp.base}/verify` })).error),
      /admin/,
    );
    const set = await admin.plain({ type: "set_identity_webhook", url: `${idp.base}/verify` }, {
      admin: true,
    });
    assertEquals(set.status, "enabled");

    const alice = newClient(reg.address);
    const ok = await alice.register({ listenAddr: ":4000", identityToken: "good:alice@corp" });
    assertEquals(ok.external_id, "alice@corp");
    assertEquals((await admin.plain({ type: "lookup", node_id: ok.node_id })).external_id, "alice@corp");
    const id = await admin.plain({ type: "get_identity", node_id: ok.node_id }, { admin: true });
    assertEquals([id.external_id, id.owner], ["alice@corp", ""]);

    const deny = newClient(reg.address);
    await assertRejects(
      () => deny.register({ listenAddr: ":4000", identityToken: "bad" }),
      RegistryReplyError,
      /identity verification rejected: token revoked/,
    );
    await assertRejects(
      () => deny.register({ listenAddr: ":4000", identityToken: "broken" }),
      RegistryReplyError,
      /identity webhook returned status 500/,
    );
    const started = Date.now();
    await assertRejects(
      () => deny.register({ listenAddr: ":4000", identityToken: "slow" }),
      RegistryReplyError,
      /no answer within 500 ms/,
    );
    assert(Date.now() - started < 1900, "registration waited for the slow verifier");
    // None of the refused registrations created a node.
    assertEquals(reg.registry.state.nodes.size, 2);
    // An unsigned registration (anyone can name a known public key) never makes the registry call the verifier.
    const seenBefore = idp.seen.length;
    const unsigned = await raw.call({
      type: "register",
      public_key: alice.publicKey,
      listen_addr: ":4000",
      identity_token: "good:mallory",
    });
    assertMatch(String(unsigned.error), /proof of key possession/);
    assertEquals(idp.seen.length, seenBefore);
    // No token: registration proceeds without asking the verifier.
    const before = idp.seen.length;
    await registeredClient(reg.address);
    assertEquals(idp.seen.length, before);
  } finally {
    raw.close();
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
    await idp.server.shutdown();
  }
});

Deno.test("IdP config, external ids and validate_token; state survives a restart", async () => {
  const idp = await startIdp();
  let reg = await startRegistry();
  const dir = reg.dir;
  let admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const raw = await RawConn.open(reg.addr.port);
  try {
    assertEquals((await admin.plain({ type: "get_idp_config" }, { admin: true })).configured, false);
    const noIdp = await raw.call({
      type: "validate_token",
      token: await idp.sign("pilot"),
      admin_token: ADMIN_TOKEN,
    });
    assertEquals([noIdp.verified, noIdp.error], [false, "no identity provider configured"]);
    await assertRejects(
      () => admin.plain({ type: "set_idp_config", idp_type: "kerberos", url: idp.base }, { admin: true }),
      RegistryReplyError,
      /invalid idp_type/,
    );
    await assertRejects(
      () =>
        admin.plain({ type: "set_idp_config", idp_type: "oidc", url: "file:///etc/passwd" }, { admin: true }),
      RegistryReplyError,
      /http or https/,
    );
    const set = await admin.plain({
      type: "set_idp_config",
      idp_type: "oidc",
      url: `${idp.base}/verify`,
      jwks_url: `${idp.base}/jwks`,
      issuer: "https://idp",
      client_id: "pilot",
    }, { admin: true });
    assertEquals([set.status, set.idp_type], ["configured", "oidc"]);
    // validate_token: admin only (no outbound request for anyone else), then verified / refused.
    const anon = await raw.call({ type: "validate_token", token: await idp.sign("pilot") });
    assertEquals(anon.type, "error");
    const good = await admin.plain({ type: "validate_token", token: await idp.sign("pilot") }, {
      admin: true,
    });
    assertEquals([good.verified, good.subject, good.issuer], [true, "alice", "https://idp"]);
    // validate_token_ok with `error` is a refusal to reference-style clients, so read it raw.
    const wrong = await raw.call({
      type: "validate_token",
      token: await idp.sign("other"),
      admin_token: ADMIN_TOKEN,
    });
    assertEquals([wrong.type, wrong.verified], ["validate_token_ok", false]);
    assertMatch(String(wrong.error), /audience/);

    const node = await registeredClient(reg.address);
    const nodeId = node.identity!.nodeId;
    node.close();
    const ext = await admin.plain({ type: "set_external_id", node_id: nodeId, external_id: "Bob@Corp" }, {
      admin: true,
    });
    assertEquals(ext.external_id, "Bob@Corp");
    await assertRejects(
      () => admin.plain({ type: "set_external_id", node_id: 999, external_id: "x" }, { admin: true }),
      RegistryReplyError,
      /not found/,
    );
    // Restart without a final snapshot: everything above was logged events, so replaying the log brings it back.
    admin.close();
    raw.close();
    await reg.close({ snapshot: false });
    reg = await startRegistry({ dir });
    admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
    const cfg = await admin.plain({ type: "get_idp_config" }, { admin: true });
    assertEquals([cfg.configured, cfg.idp_type, cfg.client_id, cfg.jwks_url], [
      true,
      "oidc",
      "pilot",
      `${idp.base}/jwks`,
    ]);
    assertEquals(
      (await admin.plain({ type: "get_identity", node_id: nodeId }, { admin: true })).external_id,
      "Bob@Corp",
    );
    // The IdP URL is also the identity webhook (the reference's rule); clearing the IdP clears both.
    assertEquals(reg.registry.state.identity.webhookUrl, `${idp.base}/verify`);
    const cleared = await admin.plain({ type: "set_idp_config", idp_type: "", url: "" }, { admin: true });
    assertEquals(cleared.status, "cleared");
    assertEquals(reg.registry.state.identity.webhookUrl, "");
    const actions = reg.registry.state.audit.newest(50, 0).map((e) => e.action);
    assert(
      actions.includes("idp.configured") && actions.includes("identity.external_id_set"),
      String(actions),
    );
  } finally {
    raw.close();
    admin.close();
    await reg.close();
    await cleanup(dir);
    await idp.server.shutdown();
  }
});

Deno.test("blueprint provisioning, pre-assigned roles on join, directory sync and status", async () => {
  const reg = await startRegistry();
  const admin = new RegistryClient({ address: reg.address, adminToken: ADMIN_TOKEN });
  const provision = (blueprint: Record<string, unknown>) =>
    admin.plain({ type: "provision_network", blueprint }, { admin: true });
  try {
    await assertRejects(() => provision({ name: "Bad Name" }), RegistryReplyError, /lowercase/);
    await assertRejects(
      () => provision({ name: "corp", roles: [{ external_id: "x", role: "owner" }] }),
      RegistryReplyError,
      /invalid role/,
    );
    await assertRejects(
      () => provision({ name: "corp", join_rule: "token" }),
      RegistryReplyError,
      /join_token/,
    );
    assertEquals(reg.registry.state.networks.size, 0); // refused blueprints change nothing

    const bp = {
      name: "corp",
      join_rule: "open",
      enterprise: true,
      policy: { max_members: 50, allowed_ports: [80, 443], description: "corp net" },
      roles: [{ external_id: "Alice@Corp", role: "admin" }],
      identity_provider: { type: "oidc", url: "http://127.0.0.1:9/verify", client_id: "pilot" },
      audit_export: { format: "json", endpoint: "http://127.0.0.1:9/x" },
    };
    const first = await provision(bp);
    assertEquals([first.network_id, first.name, first.created], [1, "corp", true]);
    const acts = first.actions as string[];
    assert(acts.some((a) => /created network 1/.test(a)) && acts.some((a) => /skipped audit_export/.test(a)));
    // Provisioning again finds the network instead of creating another.
    const again = await provision({ ...bp, roles: [{ external_id: "alice@corp", role: "admin" }] });
    assertEquals([again.network_id, again.created], [1, false]);

    const status = await admin.plain({ type: "get_provision_status" }, { admin: true });
    assertEquals(status.idp_type, "oidc");
    assertEquals(status.networks, [{
      network_id: 1,
      name: "corp",
      enterprise: true,
      members: 0,
      join_rule: "open",
      max_members: 50,
      allowed_ports: [80, 443],
      rbac_pre_assignments: [{ external_id: "alice@corp", role: "admin" }],
    }]);

    // Nodes with external ids join; the pre-assignment (case-insensitive) makes alice an admin.
    const nodes: Record<string, RegistryClient> = {};
    for (const who of ["ALICE@corp", "bob@corp", "carol@corp", "dave@corp"]) {
      const c = await registeredClient(reg.address);
      await admin.plain({ type: "set_external_id", node_id: c.identity!.nodeId, external_id: who }, {
        admin: true,
      });
      await c.joinNetwork(1);
      nodes[who.toLowerCase()] = c;
    }
    const idOf = (who: string) => nodes[who].identity!.nodeId;
    assertEquals((await nodes["alice@corp"].getMemberRole(1, idOf("alice@corp"))).role, "admin");
    assertEquals((await nodes["bob@corp"].getMemberRole(1, idOf("bob@corp"))).role, "member");

    // Directory sync: bob promoted, carol disabled, erin unknown (pre-assigned), dave unlisted → removed.
    await assertRejects(
      () => admin.plain({ type: "directory_sync", network_id: 1, entries: [] }, { admin: true }),
      RegistryReplyError,
      /entries required/,
    );
    const sync = await admin.plain({
      type: "directory_sync",
      network_id: 1,
      remove_unlisted: true,
      entries: [
        { external_id: "alice@corp", display_name: "alice", role: "admin" },
        { external_id: "BOB@corp", display_name: "Bob", role: "admin" },
        { external_id: "carol@corp", disabled: true },
        { external_id: "erin@corp", role: "admin" },
        { display_name: "no id, skipped" },
      ],
    }, { admin: true });
    assertEquals([sync.mapped, sync.unmapped, sync.updated, sync.disabled], [3, 1, 1, 2]);
    const net = reg.registry.state.networks.get(1)!;
    assertEquals(net.roles.get(idOf("bob@corp")), "admin");
    assert(!net.members.has(idOf("carol@corp")) && !net.members.has(idOf("dave@corp")));
    assertEquals(reg.registry.state.nodes.get(idOf("bob@corp"))!.hostname, "bob");
    const dstat = await admin.plain({ type: "directory_status", network_id: 1 }, { admin: true });
    assertEquals([dstat.total, dstat.mapped, dstat.unmapped, dstat.enterprise, dstat.pre_assignments], [
      2,
      2,
      0,
      true,
      2,
    ]);
    assertMatch(String(dstat.last_sync), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Directory sync is an enterprise feature.
    await provision({ name: "plain" });
    await assertRejects(
      () =>
        admin.plain({ type: "directory_sync", network_id: 2, entries: [{ external_id: "a" }] }, {
          admin: true,
        }),
      RegistryReplyError,
      /enterprise feature/,
    );
    for (const c of Object.values(nodes)) c.close();
  } finally {
    admin.close();
    await reg.close();
    await cleanup(reg.dir);
  }
});
