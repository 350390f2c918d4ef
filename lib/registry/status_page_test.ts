import { assert, assertMatch } from "../../tests/assert.ts";
import { type RegistryPageView, renderRegistryPage } from "./status_page.ts";

/** A `<script>` payload that must come out as text. */
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

/** A registry page view; `hostile` puts {@link HOSTILE} into a network name and an audit entry. */
function sampleRegistryView(hostile = false): RegistryPageView {
  const t = Date.UTC(2026, 0, 2, 3, 4, 5);
  return {
    version: "0.1.0",
    uptimeSecs: 86_500,
    status: "ok",
    durable: true,
    compat: "strict",
    nodes: { online: 42, registered: 50, public: 3 },
    networks: [
      { id: 1, name: hostile ? HOSTILE : "research", members: 12, joinRule: "token", enterprise: false },
      { id: 2, name: "ops", members: 3, joinRule: "invite", enterprise: true },
    ],
    trustEdges: 17,
    requests: [
      { type: "heartbeat", ok: 1200, error: 0, perSec: 4.5 },
      { type: "lookup", ok: 80, error: 2, perSec: 0.25 },
    ],
    rateLimited: [{ category: "register", count: 3 }],
    connections: { open: 40, accepted: 300 },
    audit: [
      {
        t: t - 3_000,
        action: "node.registered",
        actor: "node:42",
        network_id: 0,
        node_id: 42,
        details: { hostname: hostile ? HOSTILE : "beta" },
      },
      { t: t - 9_000, action: "network.created", actor: "admin", network_id: 1, node_id: 0 },
    ],
    generatedAt: t,
  };
}

Deno.test("the registry page shows nodes online, networks, request rates and the audit tail", () => {
  const page = renderRegistryPage(sampleRegistryView());
  assertMatch(page, /<meta http-equiv="refresh" content="5">/);
  assertMatch(page, /data-nodes-online="42">42 node\(s\) online/);
  assertMatch(page, /4\.8 req\/s/);
  assertMatch(page, /<code>heartbeat<\/code><\/td><td class="num">4\.50<\/td>/);
  assertMatch(page, /<span class="bad">2<\/span>/);
  assertMatch(page, /Throttled: register 3/);
  assertMatch(page, /research<\/td><td class="num">12<\/td><td>token/);
  assertMatch(page, /invite, enterprise/);
  assertMatch(page, /<code>node\.registered<\/code>.*hostname=beta/s);
  assert(!/<script/i.test(page), "a <script> element in the page");
});

Deno.test("user input on the registry page is shown as text", () => {
  const page = renderRegistryPage(sampleRegistryView(true));
  assert(!page.includes("<script>") && !page.includes("<img"), "user input reached the page as markup");
  assert(!page.includes(HOSTILE));
  assert(page.split("&lt;script&gt;").length - 1 >= 2, "network name and audit details escaped");
});

Deno.test("a degraded registry shows its reason", () => {
  const page = renderRegistryPage({
    ...sampleRegistryView(),
    status: "degraded",
    reason: "storage failed: EIO",
  });
  assertMatch(page, /<span class="badge warn">degraded<\/span>/);
  assertMatch(page, /<li>storage failed: EIO<\/li>/);
});
