import { assertEquals } from "../tests/assert.ts";
import { linuxFfiUnavailable } from "./ffi.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** What a fresh process with `env` picks for its crypto primitives, CRC and UDP binding. */
async function choices(env: Record<string, string>): Promise<string> {
  const script = `
    const { primitives } = await import("${ROOT}lib/crypto/primitives.ts");
    const { nativeCrc32 } = await import("${ROOT}lib/protocol/crc32_native.ts");
    const { linuxUdpAvailable } = await import("${ROOT}lib/tunnel/udp_linux.ts");
    console.log([primitives.name, nativeCrc32.source, linuxUdpAvailable() ?? "linux udp"].join(" / "));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test({
  name: "ffi: PILOT_FFI=off makes a Linux process use node:crypto, node:zlib and node:dgram",
  ignore: linuxFfiUnavailable() !== undefined,
  async fn() {
    assertEquals(await choices({}), "libcrypto / libz / linux udp");
    assertEquals(await choices({ PILOT_FFI: "off" }), "node / node:zlib / PILOT_FFI=off");
    assertEquals(await choices({ PILOT_FFI: "on" }), "libcrypto / libz / linux udp");
  },
});
