/** Throw-away TLS certificates for tests, made with openssl. */

async function openssl(args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/**
 * A throw-away CA and a P-256 leaf certificate for 127.0.0.1 signed by it, in `dir`, plus the
 * leaf's DER SHA-256 (the pin).
 */
export async function makeCert(
  dir: string,
  name = "reg",
): Promise<{ cert: string; key: string; ca: string; pin: string }> {
  const p = (ext: string) => `${dir}/${name}.${ext}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=pilot-test-ca",
  ]);
  await openssl(["req", ...ec, "-keyout", p("key"), "-out", p("csr"), "-subj", "/CN=127.0.0.1"]);
  await Deno.writeTextFile(
    p("ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    p("csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("pem"),
    "-days",
    "2",
    "-extfile",
    p("ext"),
  ]);
  const der = await openssl(["x509", "-in", p("pem"), "-outform", "DER"]);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(der)));
  const pin = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return {
    cert: await Deno.readTextFile(p("pem")),
    key: await Deno.readTextFile(p("key")),
    ca: await Deno.readTextFile(p("ca.pem")),
    pin,
  };
}
