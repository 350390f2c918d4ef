/**
 * Errors that say what to do, from real `pilot` subprocesses against real daemons: a malformed
 * address is refused before any look-up (and the daemon logs nothing), approving a node with
 * nothing pending is an error, a ping to a private node names trust and `pilot handshake`, a
 * handshake says it went through the registry relay and when the peer sees it, and a dial to
 * an offline node says so in whole seconds.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";

Deno.test({
  name: "CLI errors name the cause and the next step (address typo, approve, private, relay, offline)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await TestNetwork.start();
    try {
      const a = await net.addDaemon("a", ["--public"]);
      const b = await net.addDaemon("b"); // private: needs trust
      const c = await net.addDaemon("c", ["--public"]);
      const as = ["--socket", a.socket];

      const typo = await runPilot(["ping", "0:0000.0000.00ZZ", ...as]);
      assertEquals(typo.code, 64, typo.stderr);
      assertMatch(typo.stderr, /"0:0000\.0000\.00ZZ" is not a valid address/);
      const lookup = await runPilot(["send-message", "0:0000.0000.00ZZ", "--data", "x", ...as, "--json"]);
      assertEquals(JSON.parse(lookup.stderr.trim()).code, "invalid_argument");
      // A well-formed hostname nobody registered is looked up, fails as not_found, and is no daemon bug.
      const unknown = await runPilot(["ping", "no-such-host", ...as, "--json"]);
      assertEquals(JSON.parse(unknown.stderr.trim()).code, "not_found");
      await new Promise((r) => setTimeout(r, 200)); // let the daemon's stderr arrive
      assert(
        !a.process.stderrLines.some((l) => l.includes("0000.00ZZ") || l.includes("no-such-host")),
        a.process.stderrLines.join("\n"),
      );

      const approve = await runPilot(["approve", "12345", ...as]);
      assertEquals(approve.code, 1, approve.stdout);
      assertMatch(approve.stderr, /nothing is pending from node 12345/);

      const ping = await runPilot(["ping", String(b.nodeId), "--count", "1", ...as]);
      assertEquals(ping.code, 1, ping.stdout);
      assertMatch(ping.stdout + ping.stderr, /private/);
      assertMatch(ping.stdout + ping.stderr, new RegExp(`pilot handshake ${b.nodeId}`));

      const hs = await runPilot(["handshake", String(b.nodeId), "let me in", ...as]);
      assertEquals(hs.code, 0, hs.stderr);
      assertMatch(hs.stdout, /registry relay/);
      assertMatch(hs.stdout, /next registry heartbeat \(within 30 s/);
      const hsJson = await runPilot(["handshake", String(b.nodeId), "--socket", c.socket, "--json"]);
      assertEquals(hsJson.code, 0, hsJson.stderr);
      assertEquals(JSON.parse(hsJson.stdout).data.via, "relay");

      await c.process.stop("SIGKILL"); // offline, still in the registry
      const offline = await runPilot(["ping", String(c.nodeId), "--count", "1", "--timeout", "3s", ...as]);
      assertEquals(offline.code, 1, offline.stdout);
      assertMatch(offline.stdout, /no answer after 3 s: the node is offline or unreachable/);
      assert(!/\d\.\d+ ms/.test(offline.stdout), offline.stdout);
    } finally {
      await net.close();
    }
  },
});
