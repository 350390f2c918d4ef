/**
 * Pilot virtual addresses (docs/protocol/wire.md §1): a 16-bit network id plus a 32-bit node
 * id, 6 bytes big-endian on the wire, written `N:NNNN.HHHH.LLLL` as text (the
 * reference form, not the draft's). Also socket addresses (`address:port`) and
 * the well-known special addresses.
 * @module
 */
import { AddressError } from "./errors.ts";
import { parsePort, validatePort } from "./ports.ts";

export { AddressError };

/** Size of a binary address: u16 network + u32 node. */
export const ADDRESS_LENGTH = 6;
/** Largest network id. 65535 itself is reserved but still representable. */
export const MAX_NETWORK = 0xffff;
/** Largest node id. */
export const MAX_NODE = 0xffffffff;
/** Node id meaning "every member of the network". */
export const BROADCAST_NODE = 0xffffffff;
/** The global backbone network every node belongs to. */
export const BACKBONE_NETWORK = 0;

/** Hex digits per text group (each group is 16 bits). */
const GROUP_DIGITS = 4;
/** Number of dot-separated hex groups after the colon. */
const GROUP_COUNT = 3;
/** Input longer than this is echoed truncated in error messages. */
const MAX_QUOTED_TEXT = 48;
/** Longest decimal text accepted (leading zeros are legal, so bound the work). */
const MAX_DECIMAL_TEXT_LENGTH = 64;
/** 2^32, to combine network and node into one safe integer key. */
const NODE_SPACE = 0x1_0000_0000;

/** Quotes untrusted text for an error message, cutting it short if it is long. */
function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_TEXT ? text.slice(0, MAX_QUOTED_TEXT) + "…" : text);
}

/** Parses ASCII decimal digits (no sign, no spaces, leading zeros allowed) up to `max`; null if invalid. */
function parseDecimal(text: string, max: number): number | null {
  if (text.length === 0 || text.length > MAX_DECIMAL_TEXT_LENGTH) return null;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return null;
    value = value * 10 + d;
    if (value > max) return null;
  }
  return value;
}

/** Parses exactly four hex digits (either case); null if invalid. */
function parseHexGroup(text: string): number | null {
  if (text.length !== GROUP_DIGITS) return null;
  let value = 0;
  for (let i = 0; i < GROUP_DIGITS; i++) {
    const c = text.charCodeAt(i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else return null;
    value = (value << 4) | d;
  }
  return value;
}

/** Four uppercase hex digits, zero-padded. */
function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(GROUP_DIGITS, "0");
}

/**
 * An immutable virtual address: `network` (u16) and `node` (u32). Construct it
 * from numbers, text ({@link Address.parse}) or bytes ({@link Address.fromBytes});
 * compare with {@link Address.equals}, not `===`.
 *
 * @example
 * ```ts
 * const a = Address.parse("1:0001.F291.0004");
 * console.log(a.node.toString(16), a.toString()); // f2910004 1:0001.F291.0004
 * ```
 */
export class Address {
  /** Network id, 0..65535 (0 = backbone). */
  readonly network: number;
  /** Node id, 0..0xFFFFFFFF. */
  readonly node: number;

  /** Throws {@link AddressError} unless `network` is a u16 and `node` a u32 integer. */
  constructor(network: number, node: number) {
    if (!Number.isInteger(network) || network < 0 || network > MAX_NETWORK) {
      throw new AddressError(`network id must be an integer in 0..${MAX_NETWORK}, got ${network}`);
    }
    if (!Number.isInteger(node) || node < 0 || node > MAX_NODE) {
      throw new AddressError(`node id must be an integer in 0..${MAX_NODE}, got ${node}`);
    }
    this.network = network;
    this.node = node;
  }

  /**
   * Parses the reference text form `N:NNNN.HHHH.LLLL` exactly (docs/protocol/wire.md §1.2):
   * split at the first `:`; N is decimal 0..65535; then exactly three groups of
   * exactly four hex digits (either case); the first group must repeat N. No
   * whitespace, signs or `0x` anywhere. Throws {@link AddressError} naming the
   * part that is wrong.
   */
  static parse(text: string): Address {
    const colon = text.indexOf(":");
    if (colon < 0) throw new AddressError(`address ${quote(text)} has no ':' (expected N:NNNN.HHHH.LLLL)`);
    const netText = text.slice(0, colon);
    const rest = text.slice(colon + 1);
    const network = parseDecimal(netText, MAX_NETWORK);
    if (network === null) {
      throw new AddressError(
        `address ${quote(text)}: network part ${quote(netText)} is not a decimal number in 0..${MAX_NETWORK}`,
      );
    }
    const groups = rest.split(".", GROUP_COUNT + 1);
    if (groups.length !== GROUP_COUNT) {
      throw new AddressError(
        `address ${quote(text)}: expected ${GROUP_COUNT} dot-separated hex groups after ':', got ${
          groups.length > GROUP_COUNT ? "more" : groups.length
        }`,
      );
    }
    const values: number[] = [];
    for (let i = 0; i < GROUP_COUNT; i++) {
      const v = parseHexGroup(groups[i]);
      if (v === null) {
        throw new AddressError(
          `address ${quote(text)}: group ${i + 1} ${
            quote(groups[i])
          } must be exactly ${GROUP_DIGITS} hex digits`,
        );
      }
      values.push(v);
    }
    if (values[0] !== network) {
      throw new AddressError(
        `address ${quote(text)}: network mismatch: decimal part is ${network} but first hex group ` +
          `${quote(groups[0])} is ${values[0]} (expected ${hex4(network)})`,
      );
    }
    return new Address(network, values[1] * 0x10000 + values[2]);
  }

  /** Reads 6 bytes (u16 network, u32 node, big-endian) at `offset`. Throws {@link AddressError} if short. */
  static fromBytes(bytes: Uint8Array, offset = 0): Address {
    if (!Number.isInteger(offset) || offset < 0 || offset + ADDRESS_LENGTH > bytes.length) {
      throw new AddressError(
        `need ${ADDRESS_LENGTH} address bytes at offset ${offset}, buffer has ${bytes.length}`,
      );
    }
    const network = (bytes[offset] << 8) | bytes[offset + 1];
    const node = ((bytes[offset + 2] << 24) | (bytes[offset + 3] << 16) | (bytes[offset + 4] << 8) |
      bytes[offset + 5]) >>> 0;
    return new Address(network, node);
  }

  /** Reads 6 bytes at `offset` of a DataView. Throws {@link AddressError} if short. */
  static readFrom(view: DataView, offset: number): Address {
    if (!Number.isInteger(offset) || offset < 0 || offset + ADDRESS_LENGTH > view.byteLength) {
      throw new AddressError(
        `need ${ADDRESS_LENGTH} address bytes at offset ${offset}, view has ${view.byteLength}`,
      );
    }
    return new Address(view.getUint16(offset), view.getUint32(offset + 2));
  }

  /** The reference text form, e.g. `1:0001.F291.0004` (uppercase hex). */
  toString(): string {
    return `${this.network}:${hex4(this.network)}.${hex4(this.node >>> 16)}.${hex4(this.node & 0xffff)}`;
  }

  /** JSON carries addresses as their text form (registry and nameserver do). */
  toJSON(): string {
    return this.toString();
  }

  /** True when both network and node are equal. */
  equals(other: Address): boolean {
    return this.network === other.network && this.node === other.node;
  }

  /**
   * A number unique to this address (network * 2^32 + node, below 2^48, so
   * exact), for use as a Map key without building strings.
   */
  get key(): number {
    return this.network * NODE_SPACE + this.node;
  }

  /** True when the node id is the broadcast node 0xFFFFFFFF, on any network. */
  isBroadcast(): boolean {
    return this.node === BROADCAST_NODE;
  }

  /** True for `0:0000.0000.0000`, the wildcard address. */
  isUnspecified(): boolean {
    return this.network === 0 && this.node === 0;
  }

  /** The 6-byte big-endian binary form in a new array. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(ADDRESS_LENGTH);
    this.writeTo(new DataView(out.buffer), 0);
    return out;
  }

  /** Writes the 6-byte binary form at `offset` (the DataView throws RangeError if it does not fit). */
  writeTo(view: DataView, offset: number): void {
    view.setUint16(offset, this.network);
    view.setUint32(offset + 2, this.node);
  }
}

/** `0:0000.0000.0000`: unspecified / wildcard. */
export const UNSPECIFIED_ADDRESS: Address = new Address(BACKBONE_NETWORK, 0);
/** `0:0000.0000.0001`: the registry. */
export const REGISTRY_ADDRESS: Address = new Address(BACKBONE_NETWORK, 1);
/** `0:0000.0000.0002`: the beacon. */
export const BEACON_ADDRESS: Address = new Address(BACKBONE_NETWORK, 2);
/** `0:0000.0000.0003`: the nameserver. */
export const NAMESERVER_ADDRESS: Address = new Address(BACKBONE_NETWORK, 3);

/** The broadcast address of `network` (node 0xFFFFFFFF), e.g. `5:0005.FFFF.FFFF`. */
export function broadcastAddress(network: number): Address {
  return new Address(network, BROADCAST_NODE);
}

/**
 * Parses a CLI address argument the reference way: full address text, or a
 * bare decimal node id (0..4294967295) meaning that node on the backbone
 * (network 0). Throws {@link AddressError} for anything else, so a caller can
 * fall back to hostname resolution.
 *
 * @example
 * ```ts
 * import { parseAddressOrNodeId } from "./address.ts";
 * console.assert(parseAddressOrNodeId("42").toString() === "0:0000.0000.002A");
 * console.assert(parseAddressOrNodeId("1:0001.0000.0007").network === 1);
 * ```
 */
export function parseAddressOrNodeId(text: string): Address {
  if (text.includes(":")) return Address.parse(text);
  const node = parseDecimal(text, MAX_NODE);
  if (node === null) {
    throw new AddressError(`${quote(text)} is neither an address (N:NNNN.HHHH.LLLL) nor a decimal node id`);
  }
  return new Address(BACKBONE_NETWORK, node);
}

/**
 * A virtual address plus a port, written `N:NNNN.HHHH.LLLL:port`. Immutable;
 * the constructor validates the port ({@link PortError}, an AddressError).
 *
 * @example
 * ```ts
 * import { SocketAddress } from "./address.ts";
 * const target = SocketAddress.parse("0:0000.0000.002A:1001");
 * console.assert(target.port === 1001 && target.address.node === 42);
 * ```
 */
export class SocketAddress {
  /** The virtual address. */
  readonly address: Address;
  /** The port, 0..65535. */
  readonly port: number;

  constructor(address: Address, port: number) {
    this.address = address;
    this.port = validatePort(port);
  }

  /**
   * Parses `address:port`, splitting at the last `:`; the left side follows
   * {@link Address.parse}, the right side is decimal 0..65535. Throws
   * {@link AddressError} (or its subclass PortError for the port part).
   */
  static parse(text: string): SocketAddress {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new AddressError(`socket address ${quote(text)} has no ':port'`);
    const address = Address.parse(text.slice(0, colon));
    return new SocketAddress(address, parsePort(text.slice(colon + 1)));
  }

  /** `address:port`, e.g. `1:0001.F291.0004:1000`. */
  toString(): string {
    return `${this.address.toString()}:${this.port}`;
  }

  /** JSON carries socket addresses as text. */
  toJSON(): string {
    return this.toString();
  }

  /** True when address and port are equal. */
  equals(other: SocketAddress): boolean {
    return this.port === other.port && this.address.equals(other.address);
  }
}
