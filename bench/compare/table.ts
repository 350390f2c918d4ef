/**
 * The comparison table of bench/compare_bench.ts: one row per workload figure with ours, theirs and
 * ours ÷ theirs. Pure formatting, so it is unit-tested without running anything.
 * @module
 */

/** One figure a workload produces. */
export interface Metric {
  key: string;
  label: string;
  unit: string;
  /** Which way is better; the table says so, since a ratio above 1 is a win for some rows only. */
  better: "lower" | "higher";
  digits: number;
}

/** Figures by metric key; a missing key is a figure that was not measured (or failed). */
export type Figures = Record<string, number | undefined>;

/** ours ÷ theirs to two decimals, or "–" when either is missing, not finite or theirs is 0. */
export function ratio(ours: number | undefined, theirs: number | undefined): string {
  if (ours === undefined || theirs === undefined || !Number.isFinite(ours) || !Number.isFinite(theirs)) {
    return "–";
  }
  if (theirs === 0) return "–";
  return `${(ours / theirs).toFixed(2)}×`;
}

function cell(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits);
}

/** A Markdown table (first column left-aligned, the rest right-aligned). */
export function markdownTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    `| ${r.map((text, c) => c ? text.padStart(widths[c]) : text.padEnd(widths[c])).join(" | ")} |`;
  const rule = `| ${widths.map((w, c) => (c ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

/** The table: with `theirs` it has theirs and ratio columns, without it ours alone. */
export function comparisonTable(metrics: readonly Metric[], ours: Figures, theirs?: Figures): string {
  const header = theirs ? ["workload", "ours", "theirs", "ours ÷ theirs"] : ["workload", "ours"];
  const rows = metrics.map((m) => {
    const label = `${m.label} (${m.unit}, ${m.better} is better)`;
    const row = [label, cell(ours[m.key], m.digits)];
    if (theirs) row.push(cell(theirs[m.key], m.digits), ratio(ours[m.key], theirs[m.key]));
    return row;
  });
  return markdownTable([header, ...rows]);
}
