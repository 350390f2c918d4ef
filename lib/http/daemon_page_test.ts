import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import { renderDaemonPage } from "./daemon_page.ts";
import { formatBytes, formatDuration, formatRtt } from "./page_layout.ts";
import { HOSTILE, sampleDaemonView } from "./testing/sample_views.ts";

Deno.test("the daemon page shows node, health reasons, peers with path and RTT, trust, connections, events", () => {
  const page = renderDaemonPage(sampleDaemonView());
  assertMatch(page, /^<!doctype html>/);
  assertMatch(page, /<meta http-equiv="refresh" content="5">/);
  assertMatch(page, /<title>pilot node alpha \(0:0000\.0000\.0007\)<\/title>/);
  assertMatch(page, /<span class="badge warn">degraded<\/span>/);
  assertMatch(page, /registry<\/td><td><span class="bad">failing<\/span><\/td><td>2 heartbeat\(s\) failed/);
  for (const path of ["direct", "punched", "relay"]) assertMatch(page, new RegExp(`data-path="${path}"`));
  assertMatch(page, /<td class="num">0\.42 ms<\/td>/);
  assertMatch(page, /<td class="num">31 ms<\/td>/);
  assertMatch(page, /via relay/);
  assertMatch(page, /Pending requests\s+<span class="count">\(1\)<\/span>/);
  assertMatch(
    page,
    /Our requests, unanswered\s+<span class="count">\(1\)<\/span>.*0:0000\.0000\.000C.*12s ago/s,
  );
  assertMatch(page, /0:0000\.0000\.000B<\/code> <span class="muted">\(node 11\)<\/span><\/td><td>let me in/);
  assertMatch(page, /2\.4 MiB\/s \/ 500 B\/s/);
  assertMatch(page, /7 echo, 444 trust handshake, 5555</);
  assertMatch(page, /<code>handshake\.received<\/code>/);
  assertMatch(page, /<code>tunnel\.established<\/code>\s*<span class="muted">×3<\/span>/);
  assertMatch(page, /1s ago/);
  assertMatch(page, /Exposed ports and gateway \(127\.77\.0\.0\/16\)/);
  assertMatch(page, /<code>port 8080<\/code><\/td><td><code>127\.0\.0\.1:3000<\/code>/);
  assertMatch(page, /<code>127\.77\.0\.1<\/code><\/td><td><code>0:0000\.0000\.0002<\/code>/);
});

Deno.test("the daemon page needs no script: every value is in the served HTML", () => {
  const page = renderDaemonPage(sampleDaemonView());
  assert(!/<script/i.test(page), "a <script> element in the page");
  assert(!/\son[a-z]+=/i.test(page), "an inline event handler in the page");
});

Deno.test("user input on the daemon page is shown as text, never as markup", () => {
  const page = renderDaemonPage(sampleDaemonView(true));
  assert(!page.includes("<script>"), "a hostname's <script> reached the page as markup");
  assert(!page.includes("<img"), "an <img> from user input reached the page as markup");
  assertMatch(page, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
  // Hostname (title and heading), justification and event data: each escaped.
  assert(page.split("&lt;script&gt;").length - 1 >= 4, "every hostile field escaped");
  assert(!page.includes(HOSTILE));
});

Deno.test("the daemon page says so when there is nothing to show", () => {
  const v = sampleDaemonView();
  const page = renderDaemonPage({ ...v, peers: [], connections: [], events: [], trust: null, ports: [] });
  for (
    const s of [
      "no peers yet",
      "no connections",
      "no events yet",
      "trust service disabled",
    ]
  ) {
    assertMatch(page, new RegExp(s));
  }
});

Deno.test("formatting of sizes, durations and RTTs", () => {
  assertEquals([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * 1024 ** 3)], [
    "0 B",
    "1023 B",
    "1.5 KiB",
    "5.0 GiB",
  ]);
  assertEquals([formatDuration(5), formatDuration(125), formatDuration(3725), formatDuration(90_000)], [
    "5s",
    "2m 5s",
    "1h 2m",
    "1d 1h",
  ]);
  assertEquals([formatRtt(undefined), formatRtt(0.123), formatRtt(42.6)], ["–", "0.12 ms", "43 ms"]);
});
