// Conversations: streamed replies from the (mock) model, stored history across
// reconnects and restarts, and every failure mode losing nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { closeAll, connect, converse, join, joinedSession, request, waitFor } from "../support/client.mjs";

let mock;
let server;
const vars = () => ({
  OPENAI_API_KEY: "sk-test-not-a-real-key",
  OPENAI_BASE_URL: mock.url,
  OPENAI_MODEL: "mock-model",
  MIA_WORKFLOW_ID: "wf-test-1",
  UPSTREAM_RETRY_BASE_MS: 50,
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 1000,
  UPSTREAM_TIMEOUT_MS: 2500,
  MAX_MESSAGE_CHARS: 200,
  HISTORY_LIMIT: 4,
});

before(async () => {
  mock = await startMockOpenAI();
  server = await startWrangler({ vars: vars() });
});
after(async () => { closeAll(); await server?.stop(); await mock?.close(); });

async function fresh() {
  mock.clear();
  return joinedSession(server.url, "conv");
}

async function history(sessionId) {
  const s = await connect(server.url, { sessionId });
  const created = await join(s);
  s.close();
  return created.conversationHistory;
}

describe("streaming replies", () => {
  test("chunks arrive in order and concatenate to message_complete.message", async () => {
    const { socket } = await fresh();
    mock.script({ chunks: ["Hel", "lo ", "there", ", friend", "."], delayMs: 20 });
    const { complete, chunks, ack } = await converse(socket, "hi Mia");
    assert.equal(ack.ok, true);
    assert.deepEqual(chunks.map((c) => c.chunk), ["Hel", "lo ", "there", ", friend", "."]);
    assert.deepEqual(chunks.map((c) => c.index), [0, 1, 2, 3, 4]);
    assert.equal(complete.message, "Hello there, friend.");
    assert.equal(complete.interrupted, undefined);
    assert.equal(complete.mode, "GREETING");
  });

  test("the model receives the mode's system prompt and the history, the current message once", async () => {
    const { socket } = await fresh();
    const first = await converse(socket, "I'm 10 and I had a rough day");
    await converse(socket, "my friend ignored me");
    const req = mock.requests.at(-1).body;
    assert.equal(req.model, "mock-model");
    assert.equal(req.stream, true);
    assert.equal(req.temperature, 0.7);
    assert.equal(req.metadata.workflow_id, "wf-test-1");
    assert.equal(mock.requests.at(-1).headers.authorization, "Bearer sk-test-not-a-real-key");
    assert.equal(req.messages[0].role, "system");
    assert.match(req.messages[0].content, /You are Mia, an AI companion/);
    assert.match(req.messages[0].content, /MIRROR_LEARNING/);
    assert.match(req.messages[0].content, /Age: 10/);
    assert.deepEqual(req.messages.slice(1), [
      { role: "user", content: "I'm 10 and I had a rough day" },
      { role: "assistant", content: first.complete.message },
      { role: "user", content: "my friend ignored me" },
    ]);
  });

  test("HISTORY_LIMIT bounds the messages sent", async () => {
    const { socket } = await fresh();
    for (const m of ["one", "two", "three"]) await converse(socket, m);
    const msgs = mock.requests.at(-1).body.messages;
    assert.equal(msgs.length, 1 + 4);
    assert.deepEqual(msgs.at(-1), { role: "user", content: "three" });
    assert.equal(msgs.filter((m) => m.content === "three").length, 1);
  });

  test("SSE split into single bytes, multi-byte characters included, reassembles exactly", async () => {
    const { socket } = await fresh();
    mock.script({ chunks: ["héllo ", "🌍 ", "ça va?"], splitBytes: true });
    const { complete } = await converse(socket, "bytes");
    assert.equal(complete.message, "héllo 🌍 ça va?");
  });

  test("a second socket on the same session sees the same stream", async () => {
    const { socket, sessionId } = await fresh();
    const other = await connect(server.url, { sessionId });
    await join(other);
    mock.script({ chunks: ["a", "b", "c", "d"], delayMs: 20 });
    const { complete, ack } = await converse(socket, "both tabs");
    const seen = await waitFor(other, "message_complete", (p) => p.messageId === ack.replyId);
    assert.equal(seen.message, complete.message);
    const otherChunks = other.received.filter(([n, p]) => n === "message_chunk" && p.messageId === ack.replyId).map(([, p]) => p.chunk);
    assert.deepEqual(otherChunks, ["a", "b", "c", "d"]);
  });

  test("two quick messages get two replies, in order", async () => {
    const { socket } = await fresh();
    mock.script({ chunks: ["first ", "reply"], delayMs: 100 }, { chunks: ["second ", "reply"], delayMs: 10 });
    const [a, b] = await Promise.all([request(socket, "message", { message: "one" }), request(socket, "message", { message: "two" })]);
    assert.equal(a.queued, false);
    assert.equal(b.queued, true);
    await waitFor(socket, "message_complete", (p) => p.messageId === b.replyId);
    const order = socket.received.filter(([n]) => n === "message_complete").map(([, p]) => p.message);
    assert.deepEqual(order.slice(-2), ["first reply", "second reply"]);
    const firstCompleteAt = socket.received.findIndex(([n, p]) => n === "message_complete" && p.messageId === a.replyId);
    const secondFirstChunkAt = socket.received.findIndex(([n, p]) => n === "message_chunk" && p.messageId === b.replyId);
    assert.ok(firstCompleteAt < secondFirstChunkAt, "the second reply started before the first ended");
    assert.deepEqual(mock.requests.at(-1).body.messages.slice(-3).map((m) => m.content), ["one", "first reply", "two"]);
  });
});

describe("nothing is lost", () => {
  test("a client that disconnects mid-reply finds the whole reply on rejoin", async () => {
    const { socket, sessionId } = await fresh();
    const chunks = Array.from({ length: 10 }, (_, i) => `part${i} `);
    mock.script({ chunks, delayMs: 80 });
    const ack = await request(socket, "message", { message: "tell me a long story" });
    await waitFor(socket, "message_chunk", (p) => p.messageId === ack.replyId);
    socket.close();
    await sleep(100);
    const s2 = await connect(server.url, { sessionId });
    const created = await join(s2);
    if (created.streaming) {
      assert.equal(created.streaming.messageId, ack.replyId);
      await waitFor(s2, "message_complete", (p) => p.messageId === ack.replyId);
    }
    await sleep(1000);
    const stored = await history(sessionId);
    assert.deepEqual(stored.map((m) => [m.role, m.content]), [["user", "tell me a long story"], ["assistant", chunks.join("")]]);
    assert.match(stored[0].timestamp, /^\d{4}-\d\d-\d\dT/);
  });

  test("429 then success: retried, one reply", async () => {
    const { socket } = await fresh();
    mock.script({ status: 429, retryAfter: 0 }, { chunks: ["after ", "retry"] });
    const { complete } = await converse(socket, "are you there?");
    assert.equal(complete.message, "after retry");
    assert.equal(mock.requests.length, 2);
  });

  test("500 three times: UPSTREAM_UNAVAILABLE, retryable, and the message is kept", async () => {
    const { socket, sessionId } = await fresh();
    mock.script({ status: 500 }, { status: 500 }, { status: 500 });
    const ack = await request(socket, "message", { message: "hello?" });
    const err = await waitFor(socket, "error", (e) => e.code === "UPSTREAM_UNAVAILABLE");
    assert.equal(err.retryable, true);
    assert.equal(mock.requests.length, 3);
    assert.ok(!socket.received.some(([n, p]) => n === "message_complete" && p.messageId === ack.replyId));
    assert.deepEqual((await history(sessionId)).map((m) => m.content), ["hello?"]);
  });

  test("429 three times: UPSTREAM_RATE_LIMITED", async () => {
    const { socket } = await fresh();
    mock.script({ status: 429, retryAfter: 0 }, { status: 429, retryAfter: 0 }, { status: 429, retryAfter: 0 });
    await request(socket, "message", { message: "busy?" });
    const err = await waitFor(socket, "error", (e) => e.code === "UPSTREAM_RATE_LIMITED");
    assert.equal(err.retryable, true);
  });

  test("a failure mid-stream stores what arrived as interrupted, with UPSTREAM_INTERRUPTED", async () => {
    const { socket, sessionId } = await fresh();
    mock.script({ chunks: ["one ", "two ", "three ", "four"], failAfter: 2, delayMs: 20 });
    const ack = await request(socket, "message", { message: "go" });
    const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId);
    assert.equal(complete.interrupted, true);
    assert.equal(complete.message, "one two ");
    const err = await waitFor(socket, "error", (e) => e.code === "UPSTREAM_INTERRUPTED");
    assert.equal(err.retryable, true);
    const stored = await history(sessionId);
    assert.deepEqual(stored.at(-1), { ...stored.at(-1), role: "assistant", content: "one two ", interrupted: true });
  });

  test("a stream that ends without [DONE] after some text is interrupted", async () => {
    const { socket } = await fresh();
    mock.script({ chunks: ["partial"], noDone: true });
    const ack = await request(socket, "message", { message: "go" });
    const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId);
    assert.equal(complete.interrupted, true);
  });

  test("a slow first byte times out and is retried", async () => {
    const { socket } = await fresh();
    mock.script({ firstByteDelayMs: 1500 }, { chunks: ["on ", "time"] });
    const { complete } = await converse(socket, "slow?");
    assert.equal(complete.message, "on time");
    assert.equal(mock.requests.length, 2);
  });

  test("a reply still streaming at UPSTREAM_TIMEOUT_MS is cut there, kept as interrupted", async () => {
    const { socket, sessionId } = await fresh();
    mock.script({ chunks: Array.from({ length: 10 }, (_, i) => `s${i} `), delayMs: 400 });
    const started = Date.now();
    const ack = await request(socket, "message", { message: "take your time" });
    const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId);
    const took = Date.now() - started;
    assert.equal(complete.interrupted, true);
    assert.ok(took >= 2400 && took < 3900, `cut after ${took} ms, not at the 2.5 s timeout nor at the stream's 4 s end`);
    assert.match(complete.message, /^s0 s1 s2 (s\d )*$/);
    const err = await waitFor(socket, "error", (e) => e.code === "UPSTREAM_INTERRUPTED");
    assert.equal(err.retryable, true);
    assert.equal((await history(sessionId)).at(-1).content, complete.message);
  });

  test("cancel stops the reply; what arrived is stored as interrupted", async () => {
    const { socket, sessionId } = await fresh();
    mock.script({ chunks: Array.from({ length: 20 }, (_, i) => `w${i} `), delayMs: 100 });
    const ack = await request(socket, "message", { message: "talk a lot" });
    await waitFor(socket, "message_chunk", (p) => p.messageId === ack.replyId && p.index >= 1);
    const cancelled = await request(socket, "cancel", { messageId: ack.replyId });
    assert.deepEqual(cancelled, { ok: true, cancelled: true, messageId: ack.replyId });
    const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId);
    assert.equal(complete.interrupted, true);
    await sleep(300);
    const got = socket.received.filter(([n, p]) => n === "message_chunk" && p.messageId === ack.replyId).length;
    assert.ok(got < 20);
    const stored = await history(sessionId);
    assert.equal(stored.at(-1).interrupted, true);
    assert.equal(stored.at(-1).content, complete.message);
    assert.deepEqual(await request(socket, "cancel", {}), { ok: true, cancelled: false });
  });
});

describe("bad input", () => {
  test("empty, too long, wrong shape: clear errors, nothing stored", async () => {
    const { socket, sessionId } = await fresh();
    assert.equal((await request(socket, "message", { message: "" })).error.code, "INVALID_MESSAGE");
    assert.equal((await request(socket, "message", { message: 42 })).error.code, "INVALID_MESSAGE");
    assert.equal((await request(socket, "message", [1, 2])).error.code, "INVALID_MESSAGE");
    const long = await request(socket, "message", { message: "x".repeat(201) });
    assert.equal(long.error.code, "MESSAGE_TOO_LONG");
    const err = await waitFor(socket, "error", (e) => e.code === "MESSAGE_TOO_LONG");
    assert.equal(err.retryable, false);
    assert.equal((await request(socket, "message", { sessionId: "another-session", message: "hi" })).error.code, "SESSION_MISMATCH");
    assert.deepEqual(await history(sessionId), []);
  });

  test("`text` is accepted as an alias of `message`", async () => {
    const { socket } = await fresh();
    const ack = await request(socket, "message", { text: "alias works" });
    assert.equal(ack.ok, true);
    await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId);
    assert.equal(mock.requests.at(-1).body.messages.at(-1).content, "alias works");
  });

  test("at most 5 messages wait behind a reply; more are RATE_LIMITED and not stored", async () => {
    const { socket, sessionId } = await fresh();
    mock.script({ chunks: ["slow ", "reply"], delayMs: 400 });
    const acks = [];
    for (let i = 0; i < 7; i++) acks.push(await request(socket, "message", { message: `m${i}` }));
    assert.deepEqual(acks.map((a) => a.ok), [true, true, true, true, true, true, false]);
    assert.equal(acks[6].error.code, "RATE_LIMITED");
    const err = await waitFor(socket, "error", (e) => e.code === "RATE_LIMITED");
    assert.ok(err.retryAfterMs > 0);
    await waitFor(socket, "message_complete", (p) => p.messageId === acks[5].replyId, 20_000);
    const users = (await history(sessionId)).filter((m) => m.role === "user").map((m) => m.content);
    assert.deepEqual(users, ["m0", "m1", "m2", "m3", "m4", "m5"]);
  });
});

describe("restart", () => {
  test("history survives a wrangler dev restart with the same storage", async () => {
    const { socket, sessionId } = await fresh();
    const { complete } = await converse(socket, "please remember me");
    closeAll();
    const persistDir = server.persistDir;
    await server.stop();
    server = await startWrangler({ vars: vars(), persistDir });
    const stored = await history(sessionId);
    assert.deepEqual(stored.map((m) => m.content), ["please remember me", complete.message]);
  });
});
