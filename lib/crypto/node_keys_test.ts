import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { fromHex, toHex } from "../bytes.ts";
import { privateKeyObject, publicKeyObject, rawPublicKey } from "./node_keys.ts";
import { CryptoInputError } from "./errors.ts";

Deno.test("node keys: raw keys round-trip through KeyObjects (RFC 7748 / RFC 8032 keys)", () => {
  const x = privateKeyObject(
    "X25519",
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  assertEquals(x.asymmetricKeyType, "x25519");
  assertEquals(toHex(rawPublicKey(x)), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const e = privateKeyObject(
    "Ed25519",
    fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
  );
  assertEquals(e.asymmetricKeyType, "ed25519");
  const pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  assertEquals(toHex(rawPublicKey(e)), pub);
  assertEquals(toHex(rawPublicKey(publicKeyObject("Ed25519", fromHex(pub)))), pub);
});

Deno.test("node keys: a wrong-length key cannot be imported", () => {
  assertThrows(() => publicKeyObject("X25519", new Uint8Array(31)), CryptoInputError, /got 31/);
  assertThrows(() => privateKeyObject("Ed25519", new Uint8Array(33)), CryptoInputError, /got 33/);
});
