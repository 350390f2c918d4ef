/**
 * `pilot provision`, `idp`, `provision-status`, `directory-sync`, `directory-status` end to end: a
 * `pilot registry` and a daemon as subprocesses on loopback, each command its own `pilot … --json`
 * process against the daemon's socket, which relays the request to the registry with the admin token.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";

const ADMIN_TOKEN = "identity-cli-admin-token";

Deno.test("identity CLI: provision, idp, provision-status, directory-sync, directory-status", async () => {
  const net = await TestNetwork.start(["--admin-token", ADMIN_TOKEN]);
  try {
    const d = await net.addDaemon("n0");
    const pilot = async (args: string[], token = ADMIN_TOKEN) => {
      const run = await runPilot([...args, "--json", "--socket", d.socket], {
        env: { PILOT_ADMIN_TOKEN: token },
        timeoutMs: 60_000,
      });
      const line = (run.code === 0 ? run.stdout : run.stderr).trim().split("\n").pop() ?? "{}";
      return { code: run.code, env: JSON.parse(line) as Record<string, unknown>, stderr: run.stderr };
    };
    const ok = async (args: string[]) => {
      const r = await pilot(args);
      assertEquals(r.code, 0, `pilot ${args.join(" ")}: ${r.stderr}`);
      return r.env.data as Record<string, unknown>;
    };

    const bpPath = join(net.dir, "blueprint.json");
    await Deno.writeTextFile(
      bpPath,
      JSON.stringify({
        name: "corp",
        enterprise: true,
        policy: { max_members: 20 },
        roles: [{ external_id: "ops@corp", role: "admin" }],
      }),
    );
    // Usage errors exit 64 before anything is sent; no admin token is auth_required.
    assertEquals((await pilot(["provision"])).code, 64);
    assertEquals((await pilot(["provision", join(net.dir, "missing.json")])).code, 64);
    assertEquals((await pilot(["idp", "set", "--type", "kerberos", "--url", "http://x"])).code, 64);
    assertEquals((await pilot(["idp", "set", "--type", "oidc"])).code, 64);
    assertEquals((await pilot(["directory-status", "x"])).code, 64);
    const denied = await pilot(["provision", bpPath], "");
    assertEquals([denied.code, (denied.env as { code?: string }).code], [1, "auth_required"]);

    const prov = await ok(["provision", bpPath]);
    assertEquals([prov.type, prov.network_id, prov.name, prov.created], [
      "provision_network_ok",
      1,
      "corp",
      true,
    ]);
    assert((prov.actions as string[]).some((a) => /pre-assignment/.test(a)));

    assertEquals((await ok(["idp", "get"])).configured, false);
    const set = await ok([
      "idp",
      "set",
      "--type",
      "oidc",
      "--url",
      "http://127.0.0.1:9/verify",
      "--issuer",
      "https://idp",
      "--client-id",
      "pilot",
    ]);
    assertEquals([set.status, set.idp_type], ["configured", "oidc"]);
    const got = await ok(["idp", "get"]);
    assertEquals([got.configured, got.idp_type, got.issuer, got.client_id], [
      true,
      "oidc",
      "https://idp",
      "pilot",
    ]);

    const status = await ok(["provision-status"]);
    assertEquals(status.idp_type, "oidc");
    const nets = status.networks as Record<string, unknown>[];
    assertEquals([nets[0].name, nets[0].enterprise, nets[0].max_members], ["corp", true, 20]);

    const dirPath = join(net.dir, "directory.json");
    await Deno.writeTextFile(
      dirPath,
      JSON.stringify({
        network_id: 1,
        entries: [{ external_id: "dev@corp", role: "admin" }, { external_id: "x@corp" }],
      }),
    );
    const sync = await ok(["directory-sync", dirPath]);
    assertEquals([sync.mapped, sync.unmapped, sync.updated, sync.disabled], [0, 2, 0, 0]);
    const missingNet = join(net.dir, "nonet.json");
    await Deno.writeTextFile(missingNet, JSON.stringify({ entries: [{ external_id: "a" }] }));
    assertEquals((await pilot(["directory-sync", missingNet])).code, 64);
    assertEquals(
      (await ok(["directory-sync", missingNet, "--network", "1", "--remove-unlisted"])).unmapped,
      1,
    );

    const ds = await ok(["directory-status", "1"]);
    assertEquals([ds.network_id, ds.total, ds.enterprise, ds.pre_assignments], [1, 0, true, 2]);
    assertMatch(String(ds.last_sync), /^\d{4}-/);
    const notFound = await pilot(["directory-status", "7"]);
    assertEquals(notFound.code, 1);
  } finally {
    await net.close();
  }
});
