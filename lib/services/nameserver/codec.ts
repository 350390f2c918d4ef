/**
 * The nameserver's text protocol (docs/protocol/services.md §8), pure: requests and answers to and from bytes.
 * A request is one ASCII line of whitespace-separated tokens (`QUERY A web`, `REGISTER S web
 * 0:0000.0000.0007 1 80`); the command and record type are case-insensitive, names are not. An
 * answer is `A <name> <address>`, `N <name> <network>`, lines of `S <name> <address> <port>` (a
 * bare `S` when there are none), `OK` or `ERR <message>`. Every decoder takes untrusted bytes and
 * throws only {@link NameserverError}; every encoder validates what it writes the same way, so
 * a client never sends what a server would refuse as malformed.
 * @module
 */
import { PilotError } from "../../errors.ts";
import { Address, MAX_NETWORK } from "../../protocol/address.ts";
import { MAX_PORT } from "../../protocol/ports.ts";

/** A request or answer was malformed, or a value is out of range. */
export class NameserverError extends PilotError {}

/** Longest record name (a DNS name's limit); names are 1..253 printable ASCII characters, no spaces. */
export const MAX_NAME_LENGTH = 253;
/**
 * Longest request accepted. The longest valid one (`REGISTER S`, a 253-character name, an address,
 * a network and a port) is under 300 bytes; anything longer is refused before it is split.
 */
export const MAX_REQUEST_BYTES = 1024;
/** Longest answer a client reads (the reference reads once into a 64 KiB − 1 buffer). */
export const MAX_REPLY_BYTES = 65_535;
/** Longest `ERR` text a server sends; longer texts are cut. */
export const MAX_ERROR_TEXT = 512;
/** Longest decimal field accepted (leading zeros are legal, so bound the work). */
const MAX_DECIMAL_TEXT = 16;
/** Longest address text accepted before parsing (`65535:FFFF.FFFF.FFFF` is 20). */
const MAX_ADDRESS_TEXT = 32;

/** Record types: A = name → address, N = network name → network id, S = service providers. */
export type RecordType = "A" | "N" | "S";

/** One provider of a service, as `QUERY S` lists them. */
export interface ServiceRecord {
  name: string;
  address: Address;
  port: number;
}

/** A parsed request. */
export type NameserverRequest =
  | { op: "query"; type: "A"; name: string }
  | { op: "query"; type: "N"; name: string }
  | { op: "query"; type: "S"; network: number; port: number }
  | { op: "register"; type: "A"; name: string; address: Address }
  | { op: "register"; type: "N"; name: string; network: number }
  | { op: "register"; type: "S"; name: string; address: Address; network: number; port: number };

/** A parsed answer. */
export type NameserverResponse =
  | { kind: "A"; name: string; address: Address }
  | { kind: "N"; name: string; network: number }
  | { kind: "S"; services: ServiceRecord[] }
  | { kind: "OK" }
  | { kind: "ERR"; message: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** True when `name` is a valid record name. */
export function isValidName(name: string): boolean {
  if (name.length < 1 || name.length > MAX_NAME_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** `name` unchanged when valid, else {@link NameserverError}. */
export function validateName(name: string): string {
  if (!isValidName(name)) {
    throw new NameserverError(
      `invalid name ${
        quote(shorten(name))
      }: use 1..${MAX_NAME_LENGTH} printable ASCII characters without spaces`,
    );
  }
  return name;
}

/** The request's wire bytes (no trailing newline, as the reference's client sends it). */
export function encodeRequest(req: NameserverRequest): Uint8Array {
  return encoder.encode(formatRequest(req));
}

/** The request's wire text. */
export function formatRequest(req: NameserverRequest): string {
  if (req.op === "query") {
    switch (req.type) {
      case "A":
      case "N":
        return `QUERY ${req.type} ${validateName(req.name)}`;
      case "S":
        return `QUERY S ${checkNetwork(req.network)} ${checkPort(req.port)}`;
    }
  }
  switch (req.type) {
    case "A":
      return `REGISTER A ${validateName(req.name)} ${req.address}`;
    case "N":
      return `REGISTER N ${validateName(req.name)} ${checkNetwork(req.network)}`;
    case "S":
      return `REGISTER S ${validateName(req.name)} ${req.address} ${checkNetwork(req.network)} ${
        checkPort(req.port)
      }`;
  }
}

/** Parses one request from untrusted bytes; throws {@link NameserverError} with the reason. */
export function decodeRequest(bytes: Uint8Array): NameserverRequest {
  if (bytes.length > MAX_REQUEST_BYTES) {
    throw new NameserverError(`request too long (${bytes.length} bytes, at most ${MAX_REQUEST_BYTES})`);
  }
  const fields = splitFields(decodeText(bytes, "request"));
  if (fields.length < 2) throw new NameserverError("too few fields");
  const command = fields[0].toUpperCase();
  const type = fields[1].toUpperCase();
  if (command !== "QUERY" && command !== "REGISTER") {
    throw new NameserverError(`unknown command: ${shorten(fields[0])}`);
  }
  if (type !== "A" && type !== "N" && type !== "S") {
    throw new NameserverError(`unknown record type: ${shorten(fields[1])}`);
  }
  const args = fields.slice(2);
  if (command === "QUERY") {
    if (type === "S") {
      expectArgs(args, 2, "QUERY S <network_id> <port>");
      return { op: "query", type, network: parseNetwork(args[0]), port: parsePortField(args[1]) };
    }
    expectArgs(args, 1, `QUERY ${type} <name>`);
    return { op: "query", type, name: validateName(args[0]) };
  }
  switch (type) {
    case "A":
      expectArgs(args, 2, "REGISTER A <name> <address>");
      return { op: "register", type, name: validateName(args[0]), address: parseAddressField(args[1]) };
    case "N":
      expectArgs(args, 2, "REGISTER N <name> <network_id>");
      return { op: "register", type, name: validateName(args[0]), network: parseNetwork(args[1]) };
    case "S":
      expectArgs(args, 4, "REGISTER S <name> <address> <network_id> <port>");
      return {
        op: "register",
        type,
        name: validateName(args[0]),
        address: parseAddressField(args[1]),
        network: parseNetwork(args[2]),
        port: parsePortField(args[3]),
      };
  }
}

/** The answer's wire bytes. */
export function encodeResponse(resp: NameserverResponse): Uint8Array {
  return encoder.encode(formatResponse(resp));
}

/** The answer's wire text. */
export function formatResponse(resp: NameserverResponse): string {
  switch (resp.kind) {
    case "A":
      return `A ${validateName(resp.name)} ${resp.address}`;
    case "N":
      return `N ${validateName(resp.name)} ${checkNetwork(resp.network)}`;
    case "S":
      if (resp.services.length === 0) return "S";
      return resp.services.map((s) => `S ${validateName(s.name)} ${s.address} ${checkPort(s.port)}`).join(
        "\n",
      );
    case "OK":
      return "OK";
    case "ERR":
      return `ERR ${errorText(resp.message)}`;
  }
}

/** Parses an answer from untrusted bytes; throws {@link NameserverError} with the reason. */
export function decodeResponse(bytes: Uint8Array): NameserverResponse {
  if (bytes.length > MAX_REPLY_BYTES) {
    throw new NameserverError(`answer too long (${bytes.length} bytes, at most ${MAX_REPLY_BYTES})`);
  }
  const text = decodeText(bytes, "answer");
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 0) throw new NameserverError("empty answer");
  const first = lines[0];
  if (first === "ERR" || first.startsWith("ERR ") || first.startsWith("ERR\t")) {
    if (lines.length > 1) throw new NameserverError("an ERR answer has one line");
    const message = first.slice(3).trim();
    if (hasControl(message)) throw new NameserverError("ERR text holds control characters");
    return { kind: "ERR", message };
  }
  const fields = splitFields(first);
  const only = (what: string) => {
    if (lines.length > 1) throw new NameserverError(`${what} answer has one line, got ${lines.length}`);
  };
  switch (fields[0]) {
    case "OK":
      only("an OK");
      if (fields.length !== 1) throw new NameserverError("OK takes no fields");
      return { kind: "OK" };
    case "A":
      only("an A");
      expectArgs(fields.slice(1), 2, "A <name> <address>");
      return { kind: "A", name: validateName(fields[1]), address: parseAddressField(fields[2]) };
    case "N":
      only("an N");
      expectArgs(fields.slice(1), 2, "N <name> <network_id>");
      return { kind: "N", name: validateName(fields[1]), network: parseNetwork(fields[2]) };
    case "S": {
      if (fields.length === 1) {
        only("an empty S");
        return { kind: "S", services: [] };
      }
      const services = lines.map((line) => {
        const f = splitFields(line);
        if (f[0] !== "S") throw new NameserverError(`expected an S line, got ${quote(shorten(line))}`);
        expectArgs(f.slice(1), 3, "S <name> <address> <port>");
        return { name: validateName(f[1]), address: parseAddressField(f[2]), port: parsePortField(f[3]) };
      });
      return { kind: "S", services };
    }
    default:
      throw new NameserverError(`unknown answer: ${quote(shorten(first))}`);
  }
}

/** `message` as one line of at most {@link MAX_ERROR_TEXT} printable characters. */
function errorText(message: string): string {
  // deno-lint-ignore no-control-regex
  const clean = message.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
  return clean.length > MAX_ERROR_TEXT ? clean.slice(0, MAX_ERROR_TEXT) : clean;
}

function decodeText(bytes: Uint8Array, what: string): string {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new NameserverError(`${what} is not valid UTF-8`);
  }
  return text;
}

function splitFields(text: string): string[] {
  return text.split(/[ \t\r\n\v\f]+/).filter((f) => f !== "");
}

function expectArgs(args: string[], n: number, usage: string): void {
  if (args.length < n) {
    throw new NameserverError(`${usage.split(" <")[0]} requires ${usage.slice(usage.indexOf("<"))}`);
  }
  if (args.length > n) throw new NameserverError(`too many fields (expected ${usage})`);
}

function parseDecimal(text: string, max: number, what: string): number {
  if (!/^\d+$/.test(text) || text.length > MAX_DECIMAL_TEXT) {
    throw new NameserverError(`invalid ${what}: ${quote(shorten(text))}`);
  }
  const value = Number(text);
  if (value > max) throw new NameserverError(`invalid ${what}: ${value} is over ${max}`);
  return value;
}

function parseNetwork(text: string): number {
  return parseDecimal(text, MAX_NETWORK, "network_id");
}

function parsePortField(text: string): number {
  return parseDecimal(text, MAX_PORT, "port");
}

function parseAddressField(text: string): Address {
  if (text.length > MAX_ADDRESS_TEXT) throw new NameserverError(`invalid address: ${quote(shorten(text))}`);
  try {
    return Address.parse(text);
  } catch {
    throw new NameserverError(`invalid address: ${quote(text)}`);
  }
}

function checkNetwork(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_NETWORK) {
    throw new NameserverError(`network_id must be an integer in 0..${MAX_NETWORK}, got ${n}`);
  }
  return n;
}

function checkPort(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PORT) {
    throw new NameserverError(`port must be an integer in 0..${MAX_PORT}, got ${n}`);
  }
  return n;
}

function hasControl(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /[\x00-\x08\x0a-\x1f\x7f]/.test(text);
}

/** Untrusted text cut short for an error message. */
function shorten(text: string): string {
  return text.length > 48 ? text.slice(0, 48) + "…" : text;
}

/** Go's %q for the printable names this protocol carries. */
export function quote(text: string): string {
  return JSON.stringify(text);
}
