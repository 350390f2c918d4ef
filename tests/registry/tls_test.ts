/** TLS listener and certificate pinning, with certificates made by openssl at test time. */
import { assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { RegistryCertificateError, RegistryConnectionError } from "../../lib/registry/client.ts";
import { normalizePin } from "../../lib/registry/transport.ts";
import { cleanup, newClient, RawConn, registeredClient, startRegistry } from "./helpers.ts";
import { makeCert } from "./certs.ts";

Deno.test("TLS: a client with the right pin works; a wrong pin is refused with a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-tls-" });
  const { cert, key, pin } = await makeCert(dir);
  const other = await makeCert(dir, "other");
  const reg = await startRegistry({ tls: { cert, key } });
  try {
    const good = await registeredClient(reg.address, { tls: { pin } });
    assertEquals((await good.heartbeat()).type, "heartbeat_ok");
    // Pins are compared case- and colon-insensitively.
    const colons = pin.toUpperCase().match(/../g)!.join(":");
    const alt = newClient(reg.address, { tls: { pin: colons } });
    assertEquals((await alt.listNetworks()).type, "list_networks_ok");
    const bad = newClient(reg.address, { tls: { pin: other.pin } });
    const err = await assertRejects(
      () => bad.listNetworks(),
      RegistryConnectionError,
      /TLS certificate pin mismatch/,
    );
    assertMatch(err.message, new RegExp(`presented sha256 ${pin}, expected ${other.pin}`));
    assertEquals(normalizePin(colons), pin);
    // A plaintext client against the TLS listener fails without harming anyone.
    const plain = await RawConn.open(reg.addr.port);
    await plain.send({ type: "list_networks" });
    const answer = await plain.recv().catch((e) => e); // a TLS alert, then the close
    assertEquals(answer === null || answer instanceof Error, true);
    plain.close();
    assertEquals((await good.heartbeat()).type, "heartbeat_ok");
    good.close();
    alt.close();
    bad.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
    await cleanup(dir);
  }
});

Deno.test("TLS without a pin verifies against the given CA certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-tls-" });
  const { cert, key, ca } = await makeCert(dir);
  const reg = await startRegistry({ tls: { cert, key } });
  try {
    const ok = newClient(reg.address, { tls: { caCerts: [ca] } });
    assertEquals((await ok.listNetworks()).type, "list_networks_ok");
    ok.close();
    const untrusted = newClient(reg.address, { tls: {} });
    await assertRejects(() => untrusted.listNetworks(), RegistryCertificateError, /untrusted certificate/);
    untrusted.close();
  } finally {
    await reg.close();
    await cleanup(reg.dir);
    await cleanup(dir);
  }
});
