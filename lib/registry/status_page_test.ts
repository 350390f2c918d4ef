import { assert, assertMatch } from "../../tests/assert.ts";
import { renderRegistryPage } from "./status_page.ts";
import { HOSTILE, sampleRegistryView } from "../http/testing/sample_views.ts";

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
