/**
 * The `Host` check every HTTP endpoint (daemon, registry, beacon) puts in front of its
 * routes. A web page whose name an attacker re-points at 127.0.0.1 (DNS rebinding) can
 * make a browser send requests here with the attacker's name in `Host`; answering only
 * loopback names, the bound address and names the operator configured keeps `/status`
 * and `/metrics` out of such a page's reach. Any port is accepted with an allowed name.
 * @module
 */
import type { MiddlewareHandler } from "hono";

/** Which names an endpoint answers to, besides the loopback names. */
export interface HostPolicy {
  /** The address the endpoint is bound to (as configured); a wildcard allows this machine's addresses. */
  bound?: string;
  /** Extra names from the command line (`--http-host`), already normalised. */
  names: readonly string[];
}

/** Status sent for a refused `Host`: the request reached a server that does not serve that name. */
export const HOST_REFUSED_STATUS = 421;

const DNS_NAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Lowercases a host name and drops a trailing dot and IPv6 brackets; "" if it is not a name or address. */
export function normalizeHostName(name: string): string {
  let n = name.trim().toLowerCase();
  if (n.startsWith("[") && n.endsWith("]")) n = n.slice(1, -1);
  if (n.endsWith(".") && !n.includes(":")) n = n.slice(0, -1);
  if (n.includes(":")) return /^[0-9a-f:.]+$/.test(n) && (n.match(/:/g)?.length ?? 0) >= 2 ? n : "";
  return IPV4.test(n) || DNS_NAME.test(n) ? n : "";
}

/** The name part of a `Host` header value ("name", "name:port", "[v6]:port"); "" if malformed. */
export function hostHeaderName(header: string): string {
  const h = header.trim();
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    if (close < 0) return "";
    const rest = h.slice(close + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return "";
    return normalizeHostName(h.slice(0, close + 1));
  }
  const colon = h.indexOf(":");
  if (colon >= 0 && !/^\d{1,5}$/.test(h.slice(colon + 1))) return "";
  return normalizeHostName(colon >= 0 ? h.slice(0, colon) : h);
}

/** Parses a `--http-host` value: comma-separated names or addresses, without ports. Throws Error. */
export function parseHostNames(value: string, flag: string): string[] {
  const names: string[] = [];
  for (const raw of value.split(",")) {
    if (raw.trim() === "") continue;
    const name = normalizeHostName(raw);
    if (name === "") {
      throw new Error(`${flag}: "${raw.trim()}" is not a host name or address (give names without a port)`);
    }
    names.push(name);
  }
  return names;
}

function isLoopback(name: string): boolean {
  return name === "localhost" || name === "::1" || (IPV4.test(name) && name.startsWith("127."));
}

function isWildcard(name: string): boolean {
  return name === "0.0.0.0" || name === "::" || name === "";
}

/** This machine's interface addresses, for an endpoint bound to a wildcard address. */
function localAddresses(): Set<string> {
  try {
    return new Set(Deno.networkInterfaces().map((i) => normalizeHostName(i.address.split("%")[0])));
  } catch {
    return new Set(); // no --allow-sys: only loopback and configured names
  }
}

/** A predicate telling whether a `Host` header value is one `policy` serves. */
export function hostMatcher(policy: HostPolicy): (header: string | undefined) => boolean {
  const allowed = new Set(policy.names.map(normalizeHostName).filter((n) => n !== ""));
  const bound = normalizeHostName(policy.bound ?? "");
  if (policy.bound !== undefined && isWildcard(bound)) {
    for (const a of localAddresses()) allowed.add(a);
  } else if (bound !== "") {
    allowed.add(bound);
  }
  return (header) => {
    if (header === undefined) return false;
    const name = hostHeaderName(header);
    return name !== "" && (isLoopback(name) || allowed.has(name));
  };
}

/** Hono middleware answering 421 to any request whose `Host` the policy does not serve. */
export function hostCheck(policy: HostPolicy = { names: [] }): MiddlewareHandler {
  const allowed = hostMatcher(policy);
  return (c, next) => {
    const host = c.req.header("host");
    if (allowed(host)) return next();
    return Promise.resolve(c.json({
      error: `host ${
        JSON.stringify(host ?? "")
      } is not served here: only loopback names, the bound address and names given with --http-host`,
    }, HOST_REFUSED_STATUS));
  };
}
