/**
 * IPv4 subnets for the gateway's local addresses (docs/protocol/services.md §10): parsing a CIDR and
 * allocating the next free address. Allocation starts at the subnet base with its last byte
 * set to 1 and counts up, skipping addresses already in use; past the subnet's end the
 * subnet is exhausted. Pure: no sockets, no files.
 */
import { PilotError } from "../errors.ts";

/** A subnet or address argument was malformed, or the subnet has no free address left. */
export class SubnetError extends PilotError {}

/** The reference gateway's default subnet. */
export const DEFAULT_GATEWAY_SUBNET = "10.4.0.0/16";

/** An IPv4 subnet: its base address (host bits cleared) and prefix length. */
export interface Subnet {
  /** Base address as an unsigned 32-bit integer. */
  readonly base: number;
  readonly prefix: number;
  /** The CIDR text, normalised (`10.4.0.0/16`). */
  readonly text: string;
}

/** Dotted-quad → unsigned 32-bit integer; throws SubnetError on anything else. */
export function parseIPv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new SubnetError(`"${text}" is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Unsigned 32-bit integer → dotted quad. */
export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** Parses `a.b.c.d/n` (n in 1..32); host bits are cleared. */
export function parseSubnet(text: string): Subnet {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw new SubnetError(`"${text}" is not a subnet (expected e.g. 10.4.0.0/16)`);
  const prefix = Number(m[2]);
  if (prefix < 1 || prefix > 32) throw new SubnetError(`subnet prefix must be 1..32, got /${prefix}`);
  const base = (parseIPv4(m[1]) & maskOf(prefix)) >>> 0;
  return { base, prefix, text: `${formatIPv4(base)}/${prefix}` };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** True when `ip` (dotted quad) lies inside `subnet`. */
export function subnetContains(subnet: Subnet, ip: string): boolean {
  let value: number;
  try {
    value = parseIPv4(ip);
  } catch {
    return false;
  }
  return ((value & maskOf(subnet.prefix)) >>> 0) === subnet.base;
}

/** The first address from base|1 upwards not in `used`; SubnetError("subnet exhausted") past the end. */
export function allocateIPv4(subnet: Subnet, used: ReadonlySet<string>): string {
  const last = subnet.base + 2 ** (32 - subnet.prefix) - 1;
  for (let v = ((subnet.base & 0xffffff00) | 1) >>> 0; v <= last; v++) {
    if (v < subnet.base) continue;
    const ip = formatIPv4(v);
    if (!used.has(ip)) return ip;
  }
  throw new SubnetError(`subnet exhausted: no free address left in ${subnet.text}`);
}

/** True when `ip` is in 127.0.0.0/8, which Linux routes to `lo` without any alias. */
export function isLoopbackIPv4(ip: string): boolean {
  return ip.startsWith("127.");
}
