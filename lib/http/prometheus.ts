/**
 * Prometheus text exposition (format 0.0.4) for counters and gauges. Values are
 * pulled from their owners at scrape time through collector callbacks, so the data
 * path only bumps plain numbers and never formats text.
 */

/** One labelled value of a metric family. */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

/** A metric family: a name, a help line, a type and its samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: Sample[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Renders families as Prometheus text; throws TypeError on an invalid metric or label name. */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!NAME_RE.test(f.name)) throw new TypeError(`invalid metric name "${f.name}"`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${renderLabels(s.labels)} ${formatNumber(s.value)}`);
  }
  return lines.join("\n") + "\n";
}

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Shorthand for a single-sample family. */
export function single(name: string, help: string, type: "counter" | "gauge", value: number): MetricFamily {
  return { name, help, type, samples: [{ value }] };
}

/** A family with one label whose samples come from a record (e.g. drops by reason). */
export function byLabel(
  name: string,
  help: string,
  type: "counter" | "gauge",
  label: string,
  values: Record<string, number> | Map<string, number>,
): MetricFamily {
  const entries = values instanceof Map ? [...values] : Object.entries(values);
  return { name, help, type, samples: entries.map(([k, v]) => ({ labels: { [label]: k }, value: v })) };
}

function renderLabels(labels?: Record<string, string>): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => {
    if (!LABEL_RE.test(k)) throw new TypeError(`invalid label name "${k}"`);
    return `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`;
  });
  return parts.length ? `{${parts.join(",")}}` : "";
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
