import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { byLabel, renderPrometheus, single } from "./prometheus.ts";

Deno.test("renders counters and labelled gauges in text format", () => {
  const text = renderPrometheus([
    single("pilot_packets_sent_total", "Packets sent", "counter", 42),
    byLabel("pilot_drops_total", "Drops by reason", "counter", "reason", { replay: 2, "auth": 1 }),
  ]);
  assertEquals(
    text,
    [
      "# HELP pilot_packets_sent_total Packets sent",
      "# TYPE pilot_packets_sent_total counter",
      "pilot_packets_sent_total 42",
      "# HELP pilot_drops_total Drops by reason",
      "# TYPE pilot_drops_total counter",
      'pilot_drops_total{reason="replay"} 2',
      'pilot_drops_total{reason="auth"} 1',
      "",
    ].join("\n"),
  );
});

Deno.test("escapes label values and refuses invalid names", () => {
  const text = renderPrometheus([byLabel("m", "h", "gauge", "l", { 'a"b\\c': 1 })]);
  assertEquals(text.split("\n")[2], 'm{l="a\\"b\\\\c"} 1');
  assertThrows(() => renderPrometheus([single("bad name", "h", "gauge", 1)]), TypeError);
  assertThrows(() => renderPrometheus([byLabel("m", "h", "gauge", "1x", { a: 1 })]), TypeError);
});
