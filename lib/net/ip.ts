/**
 * Strict IPv4/IPv6 text ⇄ bytes conversion for wire fields that carry raw addresses (the
 * beacon's iplen/ip fields, docs/protocol/wire.md §8). Only canonical-looking literals are accepted: no
 * zone IDs, brackets, ports, octal/hex IPv4 parts or leading zeros; this keeps what we
 * parse unambiguous and what we format (RFC 5952) stable. Pure, no I/O.
 */
import { PilotError } from "../errors.ts";

/** Bytes in an IPv4 address. */
export const IPV4_SIZE = 4;
/** Bytes in an IPv6 address. */
export const IPV6_SIZE = 16;

const IPV6_GROUPS = 8;
const MAX_HEX_DIGITS_PER_GROUP = 4;
const MAX_IPV4_OCTET_DIGITS = 3;
/** The ::ffff:0:0/96 prefix that marks an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2). */
const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Raised when text is not a strict IP literal or bytes are not 4 or 16 long. */
export class IpAddressError extends PilotError {}

/**
 * Parses dotted-quad IPv4 text ("192.0.2.1") into 4 bytes. Exactly four decimal parts of
 * 1–3 digits, each 0..255, no leading zeros ("01" is refused: some stacks read it as octal).
 */
export function parseIPv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== IPV4_SIZE) throw new IpAddressError(`not an IPv4 address: ${JSON.stringify(text)}`);
  const out = new Uint8Array(IPV4_SIZE);
  for (let i = 0; i < IPV4_SIZE; i++) {
    const part = parts[i];
    if (
      !/^[0-9]+$/.test(part) || part.length > MAX_IPV4_OCTET_DIGITS || (part.length > 1 && part[0] === "0")
    ) {
      throw new IpAddressError(`bad IPv4 part ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
    }
    const value = Number(part);
    if (value > 0xff) throw new IpAddressError(`IPv4 part ${value} out of range in ${JSON.stringify(text)}`);
    out[i] = value;
  }
  return out;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2) into 16 bytes: hex groups of 1–4 digits (either case),
 * at most one "::" standing for at least one zero group, optionally ending in an embedded
 * dotted IPv4. Zone IDs ("%eth0"), brackets and surrounding whitespace are refused.
 */
export function parseIPv6(text: string): Uint8Array {
  const fail = (why: string) => new IpAddressError(`not an IPv6 address (${why}): ${JSON.stringify(text)}`);
  const halves = text.split("::");
  if (halves.length > 2) throw fail("more than one '::'");
  const parseSide = (side: string, allowV4Tail: boolean): number[] => {
    if (side === "") return [];
    const groups = side.split(":");
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4Tail && i === groups.length - 1 && g.includes(".")) {
        let v4: Uint8Array;
        try {
          v4 = parseIPv4(g);
        } catch {
          throw fail("bad embedded IPv4");
        }
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (g.length >= 1 && g.length <= MAX_HEX_DIGITS_PER_GROUP && /^[0-9a-fA-F]+$/.test(g)) {
        words.push(parseInt(g, 16));
      } else {
        throw fail(`bad group ${JSON.stringify(g)}`);
      }
    }
    return words;
  };
  let words: number[];
  if (halves.length === 2) {
    const head = parseSide(halves[0], false);
    const tail = parseSide(halves[1], true);
    const missing = IPV6_GROUPS - head.length - tail.length;
    if (missing < 1) throw fail("'::' must stand for at least one group");
    words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    words = parseSide(text, true);
    if (words.length !== IPV6_GROUPS) throw fail(`${words.length} groups`);
  }
  const out = new Uint8Array(IPV6_SIZE);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/**
 * Parses an IPv4 or IPv6 literal: text containing ':' is IPv6 (16 bytes), anything else
 * IPv4 (4 bytes). An IPv4-mapped IPv6 literal stays 16 bytes; see `unmapIPv4`.
 */
export function parseIP(text: string): Uint8Array {
  return text.includes(":") ? parseIPv6(text) : parseIPv4(text);
}

/** Formats 4 bytes as dotted-quad IPv4 text. */
export function formatIPv4(bytes: Uint8Array): string {
  if (bytes.length !== IPV4_SIZE) {
    throw new IpAddressError(`IPv4 address must be 4 bytes, got ${bytes.length}`);
  }
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * Formats 16 bytes as canonical IPv6 text (RFC 5952): lowercase, no leading zeros, the
 * longest run (first on ties) of two or more zero groups shortened to "::", and
 * IPv4-mapped addresses written "::ffff:a.b.c.d".
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== IPV6_SIZE) {
    throw new IpAddressError(`IPv6 address must be 16 bytes, got ${bytes.length}`);
  }
  const v4 = mappedIPv4(bytes);
  if (v4) return `::ffff:${formatIPv4(v4)}`;
  const words: number[] = [];
  for (let i = 0; i < IPV6_SIZE; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never shortened
  for (let i = 0; i < IPV6_GROUPS;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < IPV6_GROUPS && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** Formats 4 or 16 address bytes as text (see formatIPv4 / formatIPv6). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === IPV4_SIZE) return formatIPv4(bytes);
  if (bytes.length === IPV6_SIZE) return formatIPv6(bytes);
  throw new IpAddressError(`IP address must be 4 or 16 bytes, got ${bytes.length}`);
}

/** The embedded 4 IPv4 bytes (a view) if `bytes` is a 16-byte IPv4-mapped address, else undefined. */
export function mappedIPv4(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length !== IPV6_SIZE) return undefined;
  for (let i = 0; i < MAPPED_PREFIX.length; i++) if (bytes[i] !== MAPPED_PREFIX[i]) return undefined;
  return bytes.subarray(MAPPED_PREFIX.length);
}

/**
 * The shortest form of an address: 4 bytes for IPv4 or IPv4-mapped IPv6, else the 16 IPv6
 * bytes unchanged. This is the rule for wire fields that send IPv4 "whenever mappable".
 */
export function unmapIPv4(bytes: Uint8Array): Uint8Array {
  if (bytes.length === IPV4_SIZE) return bytes;
  if (bytes.length !== IPV6_SIZE) {
    throw new IpAddressError(`IP address must be 4 or 16 bytes, got ${bytes.length}`);
  }
  return mappedIPv4(bytes) ?? bytes;
}
