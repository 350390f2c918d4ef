/**
 * The identity webhook consulted at registration (docs/protocol/registry.md
 * §9.1): `POST {"token": …}` to the configured URL; only HTTP 200 with
 * `{"verified": true, "external_id": "<non-empty>"}` admits the node. The wait is
 * bounded so that a slow or dead verifier fails the registration instead of
 * holding it.
 * @module
 */
import { RequestError } from "../errors.ts";
import { readCapped } from "./jwt.ts";

/** How long the verifier may take (the reference's 5 s). */
export const IDENTITY_WEBHOOK_TIMEOUT_MS = 5_000;
/** Most of the verifier's answer read. */
export const MAX_WEBHOOK_REPLY_BYTES = 4096;
/** Longest external id stored. */
export const MAX_EXTERNAL_ID_LENGTH = 256;

/** Asks the verifier at `url` about `token`; returns the external id or throws RequestError("forbidden"). */
export async function verifyIdentityToken(
  url: string,
  token: string,
  timeoutMs: number = IDENTITY_WEBHOOK_TIMEOUT_MS,
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
      redirect: "error",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why = (err as Error)?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : "unreachable";
    throw new RequestError(`identity verification failed: webhook ${why}`, "forbidden");
  }
  let text: string | null;
  try {
    text = await readCapped(res, MAX_WEBHOOK_REPLY_BYTES);
  } catch {
    throw new RequestError("identity verification failed: webhook answer unreadable", "forbidden");
  }
  if (res.status !== 200) {
    throw new RequestError(`identity webhook returned status ${res.status}`, "forbidden");
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text ?? "");
  } catch {
    throw new RequestError("identity verification failed: invalid webhook answer", "forbidden");
  }
  const a = (answer ?? {}) as { verified?: unknown; external_id?: unknown; error?: unknown };
  if (a.verified !== true) {
    const why = typeof a.error === "string" && a.error ? a.error.slice(0, 200) : "not verified";
    throw new RequestError(`identity verification rejected: ${why}`, "forbidden");
  }
  if (typeof a.external_id !== "string" || a.external_id === "") {
    throw new RequestError("identity verification rejected: no external_id", "forbidden");
  }
  if (a.external_id.length > MAX_EXTERNAL_ID_LENGTH) {
    throw new RequestError(
      `identity verification rejected: external_id too long (max ${MAX_EXTERNAL_ID_LENGTH})`,
      "forbidden",
    );
  }
  return a.external_id;
}
