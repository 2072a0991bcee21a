// The original server's own flow (CONTRACT §2): a client connects with no `query`, emits
// `join_session {sessionId: null}`, reads its id from `session_created`, chats, and on a
// later visit reconnects with no `query` and joins the stored id. Mia relays such a socket
// from the Durable Object the Worker picked to the stored session's one; these tests drive
// that over WebSocket, long-polling with the upgrade, and long-polling alone, with the real
// socket.io-client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { uniqueSession, waitFor } from "../support/client.mjs";

const SECRET = "rejoin-test-secret-0123456789abcdef";
let mock;
let server;
const opened = new Set();
const storedIds = new Set();

before(async () => {
  mock = await startMockOpenAI();
  server = await startWrangler({
    vars: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: mock.url, JWT_SECRET: SECRET, MAX_SOCKETS_PER_SESSION: 3 },
  });
});
after(async () => { for (const s of opened) s.close(); await server?.stop(); await mock?.close(); });

async function anonymousToken() {
  const r = await fetch(`${server.url}/api/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  return (await r.json()).token;
}

const TRANSPORTS = {
  websocket: { transports: ["websocket"] },
  "polling then upgrade": {},
  "polling only": { transports: ["polling"] },
};

/** A socket as the original's clients open it: no query, optional token. */
function client(transport, { token, query } = {}) {
  const socket = io(server.url, { reconnection: false, forceNew: true, ...TRANSPORTS[transport], auth: token ? { token } : undefined, query });
  socket.received = [];
  socket.onAny((n, p) => socket.received.push([n, p]));
  opened.add(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** Emits join_session; resolves with { ack, created } (the session_created it caused, sent before its ack). */
async function joinSession(socket, payload) {
  const before = socket.received.length;
  const ack = await socket.timeout(15_000).emitWithAck("join_session", payload);
  const created = socket.received.slice(before).find(([n]) => n === "session_created")?.[1];
  if (ack.ok) assert.ok(created, "session_created came before the ack");
  return { ack, created };
}

/** Sends a message the original's way ({sessionId, message}); resolves with its ack, chunks and completion. */
async function say(socket, sessionId, message) {
  const ack = await socket.timeout(15_000).emitWithAck("message", { sessionId, message });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId, 20_000);
  const chunks = socket.received.filter(([n, p]) => n === "message_chunk" && p.messageId === ack.replyId).map(([, p]) => p.chunk);
  return { ack, complete, chunks };
}

async function upgraded(socket) {
  if (socket.io.engine.transport.name === "websocket") return;
  await Promise.race([new Promise((r) => socket.io.engine.once("upgrade", r)), sleep(5000)]);
}

const errors = (socket) => socket.received.filter(([n]) => n === "error").map(([, p]) => p);

/** A stored session made the original's way: returns { sessionId, token }. */
async function storedSession(transport, { token } = {}) {
  const first = await client(transport, { token });
  const { created } = await joinSession(first, { sessionId: null });
  await say(first, created.sessionId, "hello, I'm 12");
  first.close();
  storedIds.add(created.sessionId);
  return { sessionId: created.sessionId, token };
}

for (const transport of Object.keys(TRANSPORTS)) {
  describe(`the original's flow over ${transport}`, () => {
    test("create, chat, disconnect, reconnect without query, join the stored id: history back, a new message answered", async () => {
      const token = await anonymousToken();
      const first = await client(transport, { token });
      const { ack, created } = await joinSession(first, { sessionId: null });
      assert.equal(ack.ok, true);
      assert.equal(created.isNew, true);
      const sessionId = created.sessionId;
      assert.match(sessionId, /^[A-Za-z0-9_-]{22}$/);
      mock.script({ chunks: ["Hi ", "there, ", "friend"], delayMs: 10 });
      const firstReply = await say(first, sessionId, "hello, I'm 12");
      assert.equal(firstReply.complete.message, "Hi there, friend");
      assert.deepEqual(errors(first), []);
      first.close();

      const again = await client(transport, { token });
      const rejoined = await joinSession(again, { sessionId });
      assert.deepEqual(rejoined.ack, { ok: true, sessionId });
      assert.equal(rejoined.created.sessionId, sessionId);
      assert.equal(rejoined.created.isNew, false);
      assert.equal(rejoined.created.mode, "MIRROR_LEARNING");
      assert.deepEqual(rejoined.created.conversationHistory.map((m) => [m.role, m.content]), [
        ["user", "hello, I'm 12"],
        ["assistant", "Hi there, friend"],
      ]);
      mock.script({ chunks: ["Welcome ", "back"], delayMs: 10 });
      const reply = await say(again, sessionId, "I'm back");
      assert.deepEqual(reply.chunks, ["Welcome ", "back"]);
      assert.equal(reply.complete.sessionId, sessionId);
      // A message without sessionId goes to the joined session too.
      const plain = await again.timeout(15_000).emitWithAck("message", { message: "and again" });
      assert.equal(plain.ok, true);
      await waitFor(again, "message_complete", (p) => p.messageId === plain.replyId, 20_000);
      await upgraded(again);
      assert.equal(again.io.engine.transport.name, transport === "polling only" ? "polling" : "websocket");
      assert.deepEqual(errors(again), []);
    });

    test("a second tab sees the relayed socket's stream and the other way round", async () => {
      const token = await anonymousToken();
      const { sessionId } = await storedSession(transport, { token });
      const tab = await client(transport, { token, query: { sessionId } });
      await joinSession(tab, { sessionId });
      const relayed = await client(transport, { token });
      await joinSession(relayed, { sessionId });
      mock.script({ chunks: ["from ", "the relay"], delayMs: 10 });
      const mine = await say(relayed, sessionId, "what is your favourite colour?");
      const seen = await waitFor(tab, "message_complete", (p) => p.messageId === mine.ack.replyId, 20_000);
      assert.equal(seen.message, "from the relay");
      mock.script({ chunks: ["from ", "the tab"], delayMs: 10 });
      const theirs = await say(tab, sessionId, "I like drawing cats");
      const got = await waitFor(relayed, "message_complete", (p) => p.messageId === theirs.ack.replyId, 20_000);
      assert.equal(got.message, "from the tab");
      assert.deepEqual(errors(relayed), []);
    });

    test("a reply still streaming is delivered after the rejoin, and cancel reaches it", async () => {
      const { sessionId } = await storedSession(transport);
      const first = await client(transport);
      await joinSession(first, { sessionId });
      mock.script({ chunks: Array.from({ length: 12 }, (_, i) => `c${i} `), delayMs: 150 });
      const ack = await first.timeout(15_000).emitWithAck("message", { sessionId, message: "tell me a long story" });
      await waitFor(first, "message_chunk", (p) => p.messageId === ack.replyId, 20_000);
      first.close();
      const again = await client(transport);
      const { created } = await joinSession(again, { sessionId });
      assert.equal(created.streaming?.messageId, ack.replyId);
      const complete = await waitFor(again, "message_complete", (p) => p.messageId === ack.replyId, 20_000);
      assert.equal(complete.message, Array.from({ length: 12 }, (_, i) => `c${i} `).join(""));
      // A cancel through the relay stops a reply.
      mock.script({ chunks: Array.from({ length: 40 }, () => "word "), delayMs: 100 });
      const long = await again.timeout(15_000).emitWithAck("message", { message: "another long one" });
      await waitFor(again, "message_chunk", (p) => p.messageId === long.replyId, 20_000);
      const cancelled = await again.timeout(15_000).emitWithAck("cancel", {});
      assert.equal(cancelled.cancelled, true);
      const stopped = await waitFor(again, "message_complete", (p) => p.messageId === long.replyId, 20_000);
      assert.equal(stopped.interrupted, true);
      assert.deepEqual(errors(again), []);
    });

    test("a stranger's token, or none, gets FORBIDDEN for a session owned by a token", async () => {
      const { sessionId } = await storedSession(transport, { token: await anonymousToken() });
      for (const token of [await anonymousToken(), undefined]) {
        const stranger = await client(transport, { token });
        const { ack } = await joinSession(stranger, { sessionId });
        assert.equal(ack.ok, false);
        assert.equal(ack.error.code, "FORBIDDEN");
        assert.equal(errors(stranger).at(-1)?.code, "FORBIDDEN");
        assert.equal(stranger.received.filter(([n]) => n === "session_created").length, 0);
        // Nothing of the session reached it, and it may still start its own.
        const own = await joinSession(stranger, { sessionId: null });
        assert.notEqual(own.created.sessionId, sessionId);
        assert.deepEqual(own.created.conversationHistory, []);
        stranger.close();
      }
    });

    test("an unknown id gets a fresh server-minted session, returned in session_created", async () => {
      const unknown = uniqueSession("never-stored");
      const socket = await client(transport);
      const { ack, created } = await joinSession(socket, { sessionId: unknown });
      assert.equal(ack.ok, true);
      assert.notEqual(created.sessionId, unknown);
      assert.match(created.sessionId, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(created.isNew, true);
      assert.deepEqual(created.conversationHistory, []);
      await say(socket, created.sessionId, "hi");
      assert.deepEqual(errors(socket), []);
      // The unknown id was not created by asking.
      const probe = await client(transport);
      const second = await joinSession(probe, { sessionId: unknown });
      assert.notEqual(second.created.sessionId, unknown);
      assert.equal(second.created.isNew, true);
    });

    test("SESSION_MISMATCH once a socket has its session", async () => {
      const { sessionId } = await storedSession(transport);
      const other = (await storedSession(transport)).sessionId;
      const relayed = await client(transport);
      await joinSession(relayed, { sessionId });
      const joinOther = await joinSession(relayed, { sessionId: other });
      assert.equal(joinOther.ack.error.code, "SESSION_MISMATCH");
      const msgOther = await relayed.timeout(15_000).emitWithAck("message", { sessionId: other, message: "hi" });
      assert.equal(msgOther.error.code, "SESSION_MISMATCH");
      // Joining its own session again is fine.
      assert.equal((await joinSession(relayed, { sessionId })).created.sessionId, sessionId);
      // A socket that kept its own new session cannot switch either.
      const fresh = await client(transport);
      const own = await joinSession(fresh, {});
      assert.notEqual(own.created.sessionId, sessionId);
      assert.equal((await joinSession(fresh, { sessionId })).ack.error.code, "SESSION_MISMATCH");
    });
  });
}

describe("the relay", () => {
  test("closed relays free their place: sockets that come and go never fill the session", async () => {
    const { sessionId } = await storedSession("websocket");
    // MAX_SOCKETS_PER_SESSION is 3: six relayed visits in turn must not leak a place each.
    for (let i = 0; i < 6; i++) {
      const visit = await client(i % 2 ? "websocket" : "polling then upgrade");
      const { ack } = await joinSession(visit, { sessionId });
      assert.equal(ack.ok, true, `visit ${i}: ${JSON.stringify(ack)}`);
      visit.close();
      await sleep(300);
    }
    const direct = await client("websocket", { query: { sessionId } });
    assert.equal((await joinSession(direct, { sessionId })).ack.ok, true);
  });

  test("the object that relays stores nothing for its own unused id", async () => {
    const token = await anonymousToken();
    const { sessionId } = await storedSession("websocket", { token });
    const relayed = await client("websocket", { token });
    await joinSession(relayed, { sessionId });
    // The Engine.IO sid starts with the id the Worker minted for this connection.
    const minted = relayed.io.engine.id.split(".")[0];
    assert.notEqual(minted, sessionId);
    // Had the relaying object claimed it for the token's user, a socket without one would be refused.
    const probe = await client("websocket", { query: { sessionId: minted } });
    const { created } = await joinSession(probe, { sessionId: minted });
    assert.equal(created.isNew, true);
    assert.deepEqual(created.conversationHistory, []);
  });

  test("a full session refuses a relayed join with a retryable TOO_MANY_CONNECTIONS", async () => {
    const { sessionId } = await storedSession("websocket");
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await client("websocket", { query: { sessionId } }));
    const extra = await client("websocket");
    const { ack } = await joinSession(extra, { sessionId });
    assert.equal(ack.error.code, "TOO_MANY_CONNECTIONS");
    assert.equal(errors(extra).at(-1).retryable, true);
    tabs[0].close();
    await sleep(500);
    assert.equal((await joinSession(extra, { sessionId })).ack.ok, true, "it may try again once there is room");
    for (const t of tabs) t.close();
  });

  test("a malformed packet through the relay closes that socket only; the session is untouched", async () => {
    const { sessionId } = await storedSession("websocket");
    const bad = await client("websocket");
    await joinSession(bad, { sessionId });
    const gone = new Promise((r) => bad.once("disconnect", r));
    bad.io.engine.write("9 not a socket.io packet");
    await Promise.race([gone, sleep(10_000).then(() => assert.fail("the socket was not closed"))]);
    const next = await client("websocket");
    const { created } = await joinSession(next, { sessionId });
    assert.equal(created.conversationHistory.length, 2);
    assert.deepEqual(errors(next), []);
  });

  test("outside requests cannot pose as a relay: X-Mia-* headers are refused", async () => {
    const token = await anonymousToken();
    const { sessionId } = await storedSession("websocket", { token });
    const forged = { "X-Mia-Target": "relay", "X-Mia-Session-Id": sessionId, "X-Mia-User-Id": "anon_x", "X-Mia-Authenticated": "1" };
    for (const transport of ["polling", "websocket"]) {
      const r = await fetch(`${server.url}/socket.io/?EIO=4&transport=${transport}&sessionId=${sessionId}`, { headers: forged });
      assert.equal(r.status, 400);
      assert.equal((await r.json()).error.code, "INTERNAL_HEADER");
    }
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, { headers: forged });
    const status = await new Promise((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
      ws.on("open", () => resolve(101));
      ws.on("error", () => {});
    });
    ws.terminate();
    assert.equal(status, 400);
  });

  test("added latency per chunk, relayed against direct, in the same run (printed, not asserted)", async () => {
    const { sessionId } = await storedSession("websocket");
    const direct = await client("websocket", { query: { sessionId } });
    await joinSession(direct, { sessionId });
    const relayed = await client("websocket");
    await joinSession(relayed, { sessionId });
    // The mock stamps each chunk with the machine's monotonic clock as it writes it.
    const latency = { direct: [], relayed: [] };
    const arrivals = new Map();
    for (const [who, socket] of [["direct", direct], ["relayed", relayed]]) {
      socket.on("message_chunk", (p) => {
        const now = Number(process.hrtime.bigint()) / 1e6;
        const stamp = Number(/\[t=([0-9.]+)\]/.exec(p.chunk)?.[1]);
        latency[who].push(now - stamp);
        arrivals.set(`${who}:${p.messageId}:${p.index}`, now);
      });
    }
    const CHUNKS = 30;
    const deltas = [];
    for (let m = 0; m < 6; m++) {
      mock.script({ count: CHUNKS, delayMs: 20, stamp: true });
      const ack = await direct.timeout(15_000).emitWithAck("message", { message: `measure ${m}` });
      await waitFor(relayed, "message_complete", (p) => p.messageId === ack.replyId, 30_000);
      await waitFor(direct, "message_complete", (p) => p.messageId === ack.replyId, 30_000);
      for (let i = 0; i < CHUNKS; i++) {
        const d = arrivals.get(`direct:${ack.replyId}:${i}`);
        const r = arrivals.get(`relayed:${ack.replyId}:${i}`);
        if (d !== undefined && r !== undefined) deltas.push(r - d);
      }
    }
    const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(2);
    const line = (name, xs) => `${name}: p50 ${q(xs, 0.5)} p90 ${q(xs, 0.9)} p99 ${q(xs, 0.99)} max ${q(xs, 1)}`;
    console.log(`chunk latency from the model's write (ms), ${deltas.length} chunks each:`);
    console.log(`  ${line("direct ", latency.direct)}`);
    console.log(`  ${line("relayed", latency.relayed)}`);
    console.log(`  ${line("relayed - direct, same chunk", deltas)}`);
    assert.equal(deltas.length, 6 * CHUNKS, "every chunk reached both sockets");
  });

  test("the logs show relays by tags only, and no errors or panics", async () => {
    await sleep(500);
    const lines = server.logs.join("\n");
    assert.match(lines, /"msg":"relay_open"/);
    assert.match(lines, /"msg":"relay_admitted"/);
    for (const id of storedIds) assert.ok(!lines.includes(id), "a session id in full in the logs");
    assert.doesNotMatch(lines, /panicked|"level":"error"/);
  });
});
