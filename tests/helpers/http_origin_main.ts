/**
 * Runs an {@link HttpOrigin} as its own process (e.g. inside a network namespace):
 * `deno run -A http_origin_main.ts <body bytes>` prints `{"port":N}` once listening.
 */
import { bigBody, HttpOrigin } from "./http_origin.ts";

const size = Number(Deno.args[0] ?? 1024);
const origin = await HttpOrigin.start(bigBody(size));
console.log(JSON.stringify({ port: origin.port }));
