/**
 * File-system path helpers (join, dirname, basename, resolve) for the daemon's state files. They stand
 * in for `node:path` because the first `node:` import initialises Deno's Node compatibility layer,
 * ~6 MiB resident in every daemon (docs/benchmarks.md, "Daemon footprint"). POSIX paths everywhere;
 * on Windows both separators are accepted, a drive letter or a leading separator makes a path
 * absolute, and results use backslashes.
 * @module
 */

/** The path flavour: `windows` accepts `\` and drive letters; `posix` only `/`. */
export type PathFlavour = "posix" | "windows";

const HOST_FLAVOUR: PathFlavour = Deno.build.os === "windows" ? "windows" : "posix";

function isSeparator(ch: string, flavour: PathFlavour): boolean {
  return ch === "/" || (flavour === "windows" && ch === "\\");
}

/** The root a path starts with ("/", "C:\", "\\" or ""), in the flavour's own separator. */
function rootOf(path: string, flavour: PathFlavour): string {
  if (flavour === "windows") {
    if (/^[A-Za-z]:[\\/]/.test(path)) return `${path.slice(0, 2)}\\`;
    if (/^[A-Za-z]:/.test(path)) return path.slice(0, 2);
    return isSeparator(path[0] ?? "", flavour) ? "\\" : "";
  }
  return path.startsWith("/") ? "/" : "";
}

/** Whether `path` is absolute. */
export function isAbsolute(path: string, flavour: PathFlavour = HOST_FLAVOUR): boolean {
  const root = rootOf(path, flavour);
  return root !== "" && (flavour === "posix" || isSeparator(root[root.length - 1], flavour));
}

/** Collapses repeated separators, `.` and `..` (kept at the front of a relative path). */
export function normalize(path: string, flavour: PathFlavour = HOST_FLAVOUR): string {
  const root = rootOf(path, flavour);
  const sep = flavour === "windows" ? "\\" : "/";
  const out: string[] = [];
  for (const part of path.slice(root.length).split(flavour === "windows" ? /[\\/]/ : "/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (root === "") out.push("..");
      continue;
    }
    out.push(part);
  }
  const body = out.join(sep);
  return root + body || (root === "" ? "." : root);
}

/** Joins path segments with the separator and normalises the result; empty segments are skipped. */
export function join(...parts: string[]): string {
  return joinAs(HOST_FLAVOUR, ...parts);
}

/** {@link join} for a given flavour (tests cover both). */
export function joinAs(flavour: PathFlavour, ...parts: string[]): string {
  const sep = flavour === "windows" ? "\\" : "/";
  const kept = parts.filter((p) => p !== "");
  return kept.length === 0 ? "." : normalize(kept.join(sep), flavour);
}

/**
 * Where the last segment of `path` lies, trailing separators ignored: `[sepAt, end)` with `sepAt`
 * the index of the separator before it (below `root.length` when there is none).
 */
function lastSegment(path: string, flavour: PathFlavour): { root: string; sepAt: number; end: number } {
  const root = rootOf(path, flavour);
  let end = path.length;
  while (end > root.length && isSeparator(path[end - 1], flavour)) end--;
  let sepAt = end - 1;
  while (sepAt >= root.length && !isSeparator(path[sepAt], flavour)) sepAt--;
  return { root, sepAt, end };
}

/** The directory part of `path` ("." when it has none), as POSIX `dirname` gives it. */
export function dirname(path: string, flavour: PathFlavour = HOST_FLAVOUR): string {
  const { root, sepAt } = lastSegment(path, flavour);
  if (sepAt < root.length) return root === "" ? "." : root;
  let i = sepAt;
  while (i > root.length && isSeparator(path[i - 1], flavour)) i--;
  return path.slice(0, i) || root;
}

/** The last segment of `path`, trailing separators ignored. */
export function basename(path: string, flavour: PathFlavour = HOST_FLAVOUR): string {
  const { root, sepAt, end } = lastSegment(path, flavour);
  return path.slice(Math.max(sepAt + 1, root.length), end);
}

/** `path` made absolute against the working directory (later segments win, as `node:path` does). */
export function resolve(...parts: string[]): string {
  let acc = "";
  for (const part of parts) {
    if (part === "") continue;
    acc = isAbsolute(part) ? part : acc === "" ? part : join(acc, part);
  }
  return isAbsolute(acc) ? normalize(acc) : join(Deno.cwd(), acc);
}
