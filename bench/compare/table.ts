/**
 * The comparison table of bench/compare_bench.ts: one row per workload figure with ours, theirs and
 * ours ÷ theirs, each side the median of its runs with their range. Pure formatting, so it is
 * unit-tested without running anything.
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

export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The finite values of `key` over `runs`. */
function values(runs: Figures[], key: string): number[] {
  return runs.map((r) => r[key]).filter((x): x is number => x !== undefined && Number.isFinite(x));
}

/** The median of `xs`, and with several runs their range: "40.0 (32.6–48.1)"; "–" when there are none. */
function cell(xs: number[], digits: number): string {
  const m = median(xs);
  if (m === undefined) return "–";
  if (xs.length < 2) return m.toFixed(digits);
  return `${m.toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

/** A Markdown table (first column left-aligned, the rest right-aligned). */
export function markdownTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    `| ${r.map((text, c) => c ? text.padStart(widths[c]) : text.padEnd(widths[c])).join(" | ")} |`;
  const rule = `| ${widths.map((w, c) => (c ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

/**
 * The table over each side's runs: with `theirs` it has theirs and a ratio (of the medians) column,
 * without it ours alone.
 */
export function comparisonTable(metrics: readonly Metric[], ours: Figures[], theirs?: Figures[]): string {
  const header = theirs ? ["workload", "ours", "theirs", "ours ÷ theirs"] : ["workload", "ours"];
  const rows = metrics.map((m) => {
    const label = `${m.label} (${m.unit}, ${m.better} is better)`;
    const mine = values(ours, m.key);
    const row = [label, cell(mine, m.digits)];
    if (theirs) {
      const other = values(theirs, m.key);
      row.push(cell(other, m.digits), ratio(median(mine), median(other)));
    }
    return row;
  });
  return markdownTable([header, ...rows]);
}
