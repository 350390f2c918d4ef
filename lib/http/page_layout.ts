/**
 * The frame shared by the daemon's and the registry's status pages: one server-rendered HTML
 * document with a little inline CSS, refreshed by `<meta http-equiv="refresh">` so it works
 * with JavaScript off, and no script at all. Every value goes through Hono's `html` tag, which
 * escapes strings, so hostnames, tags and justifications (user input) are shown as text.
 * @module
 */
import { html, raw } from "hono/html";

/** A fragment built with Hono's `html` tag (synchronous here: no fragment is a promise). */
export type Html = ReturnType<typeof html>;

/** Seconds between reloads of a status page. */
export const STATUS_PAGE_REFRESH_SECS = 5;

/** The content type both pages are served with. */
export const HTML_CONTENT_TYPE = "text/html; charset=utf-8";

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5d6678; --bg: #f5f6f8; --card: #fff;
  --line: #e2e5ea; --ok: #1a7f37; --warn: #b35900; --bad: #c62828; --accent: #2f5fb3; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #9aa3b2; --bg: #14171c;
  --card: #1c2027; --line: #2c323c; --ok: #4cc26a; --warn: #f0a040; --bad: #ff6b6b; --accent: #7aa7ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); }
header { padding: 18px 28px 14px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header .sub { color: var(--muted); margin-top: 4px; }
main { padding: 20px 28px 32px; display: grid; gap: 18px;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
  min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { margin: 0 0 10px; font-size: 15px; font-weight: 600; }
h2 .count, h3 .count { color: var(--muted); font-weight: 400; }
h3 { margin: 14px 0 6px; font-size: 13px; font-weight: 600; }
h3:first-of-type { margin-top: 0; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top;
  overflow-wrap: break-word; }
td code, td.num, .nowrap { white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.path-direct { color: var(--ok); } .path-punched { color: var(--accent); } .path-relay { color: var(--warn); }
.muted, .empty { color: var(--muted); }
ul.reasons { margin: 6px 0 0; padding-left: 18px; color: var(--bad); }
footer { padding: 0 28px 24px; color: var(--muted); font-size: 12px; }
`;

/** A whole page: title, a subtitle line, the sections, and a footer saying when it was made. */
export function pageDocument(opts: {
  title: string;
  subtitle: Html;
  sections: Html[];
  generatedAt: number;
  refreshSecs?: number;
}): string {
  const refresh = opts.refreshSecs ?? STATUS_PAGE_REFRESH_SECS;
  // trimStart: the doctype comes first.
  return fragmentText(html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="refresh" content="${refresh}">
        <link rel="icon" href="data:,">
        <title>${opts.title}</title>
        <style>${raw(STYLE)}</style>
      </head>
      <body>
        <header>
          <h1>${opts.title}</h1>
          <div class="sub">${opts.subtitle}</div>
        </header>
        <main>
    ${opts.sections}
        </main>
        <footer>Read-only. Generated ${new Date(opts.generatedAt)
          .toISOString()}; reloads every ${refresh} s.</footer>
      </body>
    </html>
  `).trimStart();
}

/** A section with a heading, an optional count next to it, and a body. */
export function section(title: string, body: Html, opts: { count?: number; wide?: boolean } = {}): Html {
  return html`<section${opts.wide ? raw(' class="wide"') : ""}><h2>${title}${
    opts.count === undefined ? "" : html`
      <span class="count">(${opts.count})</span>
    `
  }</h2>${body}</section>`;
}

/** A table with `headers` (a header ending in "#" is right-aligned, the "#" dropped) or `empty` when no rows. */
export function table(headers: string[], rows: Html[][], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  const numeric = headers.map((h) => h.endsWith("#"));
  return html`
    <div class="scroll">
      <table>
        <thead>
          <tr>${headers.map((h, i) =>
            numeric[i] ? html`<th class="num">${h.slice(0, -1)}</th>` : html`<th>${h}</th>`
          )}</tr>
        </thead>
        <tbody>${rows.map((r) =>
          html`<tr>${
            r.map((cell, i) => numeric[i] ? html`<td class="num">${cell}</td>` : html`<td>${cell}</td>`)
          }</tr>`
        )}</tbody>
      </table>
    </div>
  `;
}

/** A definition list of label/value pairs. */
export function facts(pairs: [string, Html | string | number][]): Html {
  return html`<dl>${
    pairs.map(([k, v]) =>
      html`
        <dt>${k}</dt>
        <dd>${v}</dd>
      `
    )
  }</dl>`;
}

/** Plain text as a fragment (escaped). */
export function text(value: string | number): Html {
  return html`${value}`;
}

/** A status badge: ok green, degraded orange, anything else red. */
export function statusBadge(status: string): Html {
  const cls = status === "ok" ? "ok" : status === "degraded" ? "warn" : "bad";
  return html`<span class="badge ${cls}">${status}</span>`;
}

/** "1.5 KiB", "3.2 MiB"... */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1024) return `${Math.max(0, Math.round(n))} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A byte rate, "12 KiB/s". */
export function formatRate(bytesPerSec: number | undefined): string {
  return bytesPerSec === undefined ? "–" : `${formatBytes(bytesPerSec)}/s`;
}

/** "3d 4h", "2h 5m", "4m 10s", "12s". */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** How long before `now` the unix-ms time `t` was, "12s ago". */
export function formatAgo(t: number, now: number): string {
  return `${formatDuration((now - t) / 1000)} ago`;
}

/** An RTT in ms with sensible precision, or "–". */
export function formatRtt(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "–";
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

/** The text of a synchronous fragment. */
export function fragmentText(h: Html): string {
  if (h instanceof Promise) throw new Error("status page fragments must be synchronous");
  return h.toString();
}
