import { assertEquals } from "../../tests/assert.ts";
import { comparisonTable, type Metric, ratio } from "./table.ts";

const METRICS: Metric[] = [
  { key: "rss", label: "idle RSS", unit: "MiB", better: "lower", digits: 1 },
  { key: "mbps", label: "bench", unit: "MiB/s", better: "higher", digits: 0 },
];

Deno.test("ratio: ours ÷ theirs, '–' when a side is missing or theirs is zero", () => {
  assertEquals(ratio(50, 25), "2.00×");
  assertEquals(ratio(1, 3), "0.33×");
  assertEquals(ratio(undefined, 3), "–");
  assertEquals(ratio(3, undefined), "–");
  assertEquals(ratio(3, 0), "–");
  assertEquals(ratio(NaN, 1), "–");
});

Deno.test("comparisonTable: ours alone has two columns", () => {
  assertEquals(
    comparisonTable(METRICS, [{ rss: 40.04, mbps: 99.6 }]),
    [
      "| workload                        | ours |",
      "| ------------------------------- | ---: |",
      "| idle RSS (MiB, lower is better) | 40.0 |",
      "| bench (MiB/s, higher is better) |  100 |",
    ].join("\n"),
  );
});

Deno.test("comparisonTable: with theirs, a ratio column; missing figures show '–'", () => {
  assertEquals(
    comparisonTable(METRICS, [{ rss: 40, mbps: 100 }], [{ rss: 20 }]),
    [
      "| workload                        | ours | theirs | ours ÷ theirs |",
      "| ------------------------------- | ---: | -----: | ------------: |",
      "| idle RSS (MiB, lower is better) | 40.0 |   20.0 |         2.00× |",
      "| bench (MiB/s, higher is better) |  100 |      – |             – |",
    ].join("\n"),
  );
});

Deno.test("comparisonTable: several runs give the median and the range; the ratio is of the medians", () => {
  const ours = [{ rss: 30, mbps: 90 }, { rss: 50, mbps: 110 }, { rss: 40, mbps: 100 }];
  const theirs = [{ rss: 10 }, { rss: 30, mbps: 50 }];
  assertEquals(
    comparisonTable(METRICS, ours, theirs),
    [
      "| workload                        |             ours |           theirs | ours ÷ theirs |",
      "| ------------------------------- | ---------------: | ---------------: | ------------: |",
      "| idle RSS (MiB, lower is better) | 40.0 (30.0–50.0) | 20.0 (10.0–30.0) |         2.00× |",
      "| bench (MiB/s, higher is better) |     100 (90–110) |               50 |         2.00× |",
    ].join("\n"),
  );
});
