/**
 * Which addresses a STUN-style discovery may publish (docs/protocol/wire.md §8.3 step 2): a reply that shows a
 * private, loopback, link-local or unspecified address means the beacon sits on our side of any
 * NAT, so the answer says nothing about how the rest of the network reaches us and is not
 * registered. Pure; addresses are IP literals as the beacon codec returns them.
 */
import { parseIP, unmapIPv4 } from "../net/ip.ts";

/**
 * True when `ip` is an address other networks could route to us: not RFC 1918 or unique-local
 * (fc00::/7), not loopback, link-local, unspecified or multicast. Unparseable text is false.
 * The documentation ranges count as public: the NAT tests build a small internet out of them.
 */
export function isPublicCandidate(ip: string): boolean {
  let bytes: Uint8Array;
  try {
    bytes = unmapIPv4(parseIP(ip));
  } catch {
    return false;
  }
  if (bytes.length === 4) {
    const [a, b] = bytes;
    if (a === 0 || a === 127 || a === 10 || a >= 224) return false; // unspecified, loopback, private, multicast+
    if (a === 172 && b >= 16 && b <= 31) return false;
    if (a === 192 && b === 168) return false;
    if (a === 169 && b === 254) return false; // link-local
    return true;
  }
  if (bytes.every((x) => x === 0)) return false; // ::
  if (bytes.slice(0, 15).every((x) => x === 0) && bytes[15] === 1) return false; // ::1
  if ((bytes[0] & 0xfe) === 0xfc) return false; // fc00::/7 unique local
  if (bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80) return false; // fe80::/10 link-local
  if (bytes[0] === 0xff) return false; // multicast
  return true;
}
