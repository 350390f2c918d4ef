/**
 * The client side of one nameserver exchange over any byte stream (an SDK connection in an
 * application, a session-layer stream inside the daemon): write the request in one write, read
 * the answer until the server closes (at most {@link MAX_REPLY_BYTES}), decode it.
 * @module
 */
import type { ByteStream, IoOptions } from "../byte_stream_shape.ts";
import {
  decodeResponse,
  encodeRequest,
  MAX_REPLY_BYTES,
  NameserverError,
  type NameserverRequest,
  type NameserverResponse,
} from "./codec.ts";

/**
 * Sends `request` on `stream` and returns the decoded answer. Throws {@link NameserverError}
 * for an empty, oversized or malformed answer; I/O errors come from the stream. Does not close it.
 */
export async function exchangeRequest(
  stream: ByteStream,
  request: NameserverRequest,
  options?: IoOptions,
): Promise<NameserverResponse> {
  await stream.write(encodeRequest(request), options);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await stream.read(options);
    if (chunk === null) break;
    total += chunk.length;
    if (total > MAX_REPLY_BYTES) throw new NameserverError(`answer longer than ${MAX_REPLY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (total === 0) throw new NameserverError("the nameserver closed without answering");
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  return decodeResponse(bytes);
}
