// A local stand-in for OpenAI's chat-completions API: streams SSE replies with
// scripted delays and failures, and records every request it receives.
// The one fake in the test suite: everything else is the real thing.
import http from "node:http";

/**
 * Behaviours, consumed one per request (FIFO); when none is queued, the default
 * streams "Mock reply to: <last user message>" in small chunks.
 *  { status: 500 }                         answer with that status and a JSON error
 *  { status: 429, retryAfter: 0 }          rate limited
 *  { chunks: ["a","b"], delayMs: 10 }      stream these deltas, delayMs apart
 *  { firstByteDelayMs: 3000 }              wait before sending headers
 *  { failAfter: 2 }                        destroy the connection after 2 chunks
 *  { noDone: true }                        end the stream without [DONE]
 *  { splitBytes: true }                    write the SSE bytes one at a time
 * POST /v1/moderations flags the categories `mock.moderate(input)` returns (none by default).
 *
 * Chat requests whose `model` is `judgeModel` are the safety judge's: they are recorded in
 * `judgements` (not `requests`) as { body, message, context }, and answered (not streamed) with
 * what `mock.judge(message, context)` returns; unset, or returning nothing, means tier 1:
 *  { verdict: { tier: 3, categories: ["suicide"], reason: "plan" } }   that verdict as the content
 *  { content: "not json" }                                            this content as it is
 *  { status: 500 }                                                    that status
 *  { delayMs: 3000, ... }                                             wait first
 */
export async function startMockOpenAI({ port = 0, defaults = {}, record = true, judgeModel = "mock-judge" } = {}) {
  const queue = [];
  let served = 0;
  const requests = [];
  const moderations = [];
  const judgements = [];
  const mock = {};
  const server = http.createServer(async (req, res) => {
    let body = "";
    for await (const part of req) body += part;
    let parsed = null;
    try { parsed = JSON.parse(body); } catch { /* recorded as null */ }
    if (req.url.endsWith("/moderations")) {
      // Flags what mock.moderate(input) returns (category names); nothing by default.
      if (record) moderations.push({ body: parsed, at: Date.now() });
      served++;
      let flagged;
      try {
        flagged = (await mock.moderate?.(parsed?.input)) ?? [];
      } catch {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "scripted moderation failure" } }));
        return;
      }
      const categories = Object.fromEntries(["self-harm", "self-harm/intent", "self-harm/instructions", "violence"].map((c) => [c, flagged.includes(c)]));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "modr-mock", model: "omni-moderation-latest", results: [{ flagged: flagged.length > 0, categories }] }));
      return;
    }
    if (parsed?.model === judgeModel) {
      served++;
      await answerJudge(parsed, res);
      return;
    }
    if (record) requests.push({ method: req.method, url: req.url, headers: req.headers, body: parsed, at: Date.now() });
    served++;
    const b = queue.shift() ?? { ...defaults };
    if (b.firstByteDelayMs) await sleep(b.firstByteDelayMs);
    if (b.status && b.status !== 200) {
      const headers = { "content-type": "application/json" };
      if (b.retryAfter !== undefined) headers["retry-after"] = String(b.retryAfter);
      res.writeHead(b.status, headers);
      res.end(JSON.stringify({ error: { message: `scripted ${b.status}`, type: "server_error" } }));
      return;
    }
    const last = parsed?.messages?.filter((m) => m.role === "user").at(-1)?.content ?? "";
    const chunks = b.chunks ?? (b.count ? Array.from({ length: b.count }, () => "") : ["Mock ", "reply ", "to: ", last]);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const write = async (text) => {
      if (b.splitBytes) {
        for (const byte of Buffer.from(text)) { res.write(Buffer.from([byte])); }
      } else {
        res.write(text);
      }
    };
    await write(`: keep-alive\n\n`);
    await write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant" } }] })}\n\n`);
    for (let i = 0; i < chunks.length; i++) {
      if (b.failAfter !== undefined && i === b.failAfter) {
        await sleep(50); // let what was written reach the server first
        res.socket.destroy();
        return;
      }
      if (b.delayMs) await sleep(b.delayMs);
      b.onChunk?.(i, Date.now());
      // { stamp: true }: each chunk carries the wall-clock time it was written, for benchmarks.
      // The monotonic clock is one clock for every process on the machine; performance.timeOrigin
      // differs between processes by up to a quarter of a millisecond.
      const content = b.stamp ? `[t=${(Number(process.hrtime.bigint()) / 1e6).toFixed(3)}] ` : chunks[i];
      await write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`);
    }
    if (b.noDone) { res.end(); return; }
    await write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`);
    await write("data: [DONE]\n\n");
    res.end();
  });
  async function answerJudge(body, res) {
    // The judged message and its context travel as one JSON object in the user content.
    const user = body.messages?.find((m) => m.role === "user")?.content ?? "";
    let input = {};
    try { input = JSON.parse(user.slice(user.indexOf("{"))); } catch { /* recorded as {} */ }
    if (record) judgements.push({ body, message: input.message, context: input.context, at: Date.now() });
    const b = (await mock.judge?.(input.message, input.context)) ?? {};
    if (b.delayMs) await sleep(b.delayMs);
    if (res.destroyed) return; // the server gave up waiting
    if (b.status && b.status !== 200) {
      res.writeHead(b.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `scripted ${b.status}`, type: "server_error" } }));
      return;
    }
    const content = b.content ?? JSON.stringify(b.verdict ?? { tier: 1, categories: [], reason: "nothing of concern" });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({
      id: "chatcmpl-judge", object: "chat.completion", model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    }));
  }

  // TCP connections accepted so far (shows whether the server reuses them).
  mock.connections = 0;
  server.on("connection", () => { mock.connections++; });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/v1`;
  return Object.assign(mock, {
    url,
    requests,
    moderations,
    moderate: null,
    judgements,
    judge: null,
    /** Requests answered so far, moderation included. */
    served: () => served,
    script(...behaviours) { queue.push(...behaviours); },
    clear() {
      queue.length = 0; requests.length = 0; moderations.length = 0; judgements.length = 0;
      mock.moderate = null; mock.judge = null;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Run standalone (benchmarks): node tests/support/mock-openai.mjs PORT CHUNKS DELAY_MS
// streams CHUNKS time-stamped chunks DELAY_MS apart for every request.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [port, count, delayMs] = process.argv.slice(2).map(Number);
  // Nothing recorded: a growing log would make the mock's own garbage collector part of the figures.
  const mock = await startMockOpenAI({ port: port || 0, defaults: { count: count || 20, delayMs: delayMs || 0, stamp: true }, record: false });
  console.log(mock.url);
  // SIGTERM: report how many connections served the requests, then exit.
  process.on("SIGTERM", () => {
    process.stderr.write(`mock: ${mock.served()} requests over ${mock.connections} connections\n`, () => process.exit(0));
  });
}
