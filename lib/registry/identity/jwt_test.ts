/**
 * `verifyToken` against a JWKS served over real HTTP by a local Hono app, with
 * RS256 and ES256 keys made in the test: only a valid token passes; expired, not
 * yet valid, wrong audience, wrong issuer, unknown key (after exactly one
 * refetch), `alg: none` and the HS256-with-the-public-key confusion are refused.
 */
import { assert, assertEquals, assertMatch } from "../../../tests/assert.ts";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { JwksCache, verifyToken } from "./jwt.ts";

const ISSUER = "https://idp.example.test";
const AUDIENCE = "pilot-registry";

interface KeyPair {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  jwk: JWK;
}

async function makeKey(alg: "RS256" | "ES256", kid: string): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, jwk };
}

/** A JWKS endpoint whose key list the test can change; counts requests. */
class JwksServer {
  keys: JWK[] = [];
  hits = 0;
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  constructor() {
    const app = new Hono();
    app.get("/jwks", (c) => {
      this.hits++;
      return c.json({ keys: this.keys });
    });
    this.server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  }
  get url(): string {
    return `http://127.0.0.1:${this.server.addr.port}/jwks`;
  }
}

function sign(
  key: KeyPair,
  claims: Record<string, unknown>,
  opts: { exp?: number; nbf?: number; aud?: string; iss?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setSubject("alice@example.test")
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 600);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key.privateKey);
}

function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

Deno.test("JWT validation: RS256 and ES256 against a served JWKS, every forgery refused", async () => {
  const idp = new JwksServer();
  try {
    const rsa = await makeKey("RS256", "rsa-1");
    const ec = await makeKey("ES256", "ec-1");
    idp.keys = [rsa.jwk, ec.jwk];
    const cache = new JwksCache({ refetchCooldownMs: 60_000 });
    const expect = () => ({ jwksUrl: idp.url, issuer: ISSUER, audience: AUDIENCE, now: Date.now() });
    const now = Math.floor(Date.now() / 1000);

    // Valid, both algorithms; the JWKS is fetched once and then cached.
    for (const key of [rsa, ec]) {
      const v = await verifyToken(await sign(key, {}), expect(), cache);
      assertEquals(v, { verified: true, subject: "alice@example.test", issuer: ISSUER });
    }
    assertEquals(idp.hits, 1);

    const refused = async (token: string, re: RegExp) => {
      const v = await verifyToken(token, expect(), cache);
      assertEquals(v.verified, false, `accepted: ${token}`);
      if (!v.verified) assertMatch(v.error, re);
    };
    // Expired beyond the 60 s tolerance, and not yet valid beyond it.
    await refused(await sign(rsa, {}, { exp: now - 3600 }), /expired/);
    await refused(await sign(ec, {}, { nbf: now + 3600 }), /not yet valid/);
    // Wrong audience, wrong issuer.
    await refused(await sign(rsa, {}, { aud: "someone-else" }), /audience/);
    await refused(await sign(ec, {}, { iss: "https://evil.example.test" }), /issuer/);
    // No exp at all.
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "rsa-1" }).setIssuer(ISSUER)
      .setAudience(AUDIENCE).sign(rsa.privateKey);
    await refused(noExp, /exp/);
    // A valid signature by a key that claims the known kid but is not the IdP's.
    const impostor = await makeKey("RS256", "rsa-1");
    await refused(await sign(impostor, {}), /signature/);
    // Unknown kid: one refetch once the cooldown since the last fetch has passed (the IdP may have rotated),
    // then refused; a second try within the cooldown does not fetch again.
    const stranger = await makeKey("ES256", "ec-unknown");
    const hitsBefore = idp.hits;
    const later = { ...expect(), now: Date.now() + 61_000 };
    for (let i = 0; i < 2; i++) {
      const v = await verifyToken(await sign(stranger, {}, { exp: now + 3600 }), later, cache);
      assert(!v.verified && /no matching key/.test(v.error), JSON.stringify(v));
      assertEquals(idp.hits, hitsBefore + 1);
    }
    // alg none: a well-formed unsigned token with valid claims.
    const claims = b64url(JSON.stringify({ sub: "mallory", iss: ISSUER, aud: AUDIENCE, exp: now + 600 }));
    await refused(`${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${claims}.`, /alg none/);
    await refused(`${b64url(JSON.stringify({ alg: "None", kid: "rsa-1" }))}.${claims}.`, /alg none/);
    // HS256 with the RSA public key (as the IdP publishes it) used as the HMAC secret.
    const header = b64url(JSON.stringify({ alg: "HS256", kid: "rsa-1", typ: "JWT" }));
    const secret = new TextEncoder().encode(JSON.stringify(rsa.jwk));
    const hmacKey = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const mac = new Uint8Array(
      await crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(`${header}.${claims}`)),
    );
    await refused(`${header}.${claims}.${b64url(mac)}`, /symmetric algorithm HS256/);
    // Other algorithms and garbage.
    const rs512 = `${b64url(JSON.stringify({ alg: "RS512", kid: "rsa-1" }))}.${claims}.AAAA`;
    await refused(rs512, /RS512 not accepted/);
    await refused("not-a-jwt", /not a JWS/);

    // After a rotation at the IdP, a token signed by the new key passes thanks to the refetch.
    const rotated = await makeKey("ES256", "ec-2");
    idp.keys = [...idp.keys, rotated.jwk];
    const late = new JwksCache({ refetchCooldownMs: 0 });
    assert((await verifyToken(await sign(rsa, {}), expect(), late)).verified);
    assert((await verifyToken(await sign(rotated, {}), expect(), late)).verified);
    assertEquals(late.fetches, 1); // the fresh cache saw ec-2 already on its first fetch
  } finally {
    await idp.server.shutdown();
  }
});

Deno.test("JWT validation: no audience configured, unreachable or oversized JWKS are refusals, not crashes", async () => {
  const big = new Hono();
  big.get("/jwks", (c) => c.text("x".repeat(200_000)));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, big.fetch);
  try {
    const key = await makeKey("RS256", "k");
    const token = await sign(key, {});
    const base = { issuer: ISSUER, now: Date.now() };
    const noAud = await verifyToken(
      token,
      { ...base, audience: "", jwksUrl: "http://127.0.0.1:1/" },
      new JwksCache(),
    );
    assertEquals(noAud.verified, false);
    const cache = new JwksCache({ timeoutMs: 2000 });
    const dead = await verifyToken(
      token,
      { ...base, audience: AUDIENCE, jwksUrl: "http://127.0.0.1:1/jwks" },
      cache,
    );
    assert(!dead.verified && /JWKS fetch failed/.test(dead.error));
    const url = `http://127.0.0.1:${server.addr.port}/jwks`;
    const huge = await verifyToken(token, { ...base, audience: AUDIENCE, jwksUrl: url }, cache);
    assert(!huge.verified && /larger than/.test(huge.error), JSON.stringify(huge));
  } finally {
    await server.shutdown();
  }
});
