// Durability (issue 13, items 10, 12, 13) as faults against the real Worker under wrangler dev:
// the runtime killed (SIGKILL) mid-reply and restarted on the same state, a storage write that
// fails for real (a value over SQLite's size limit), nothing stored for ids without a message,
// and sessions that delete themselves after SESSION_RETENTION_DAYS.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import WebSocket from "ws";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { closeAll, connect, converse, join, refused, request, uniqueSession, waitFor } from "../support/client.mjs";

const SECRET = "durability-test-secret-0123456789abcdef";
const servers = new Set();
let mock;

async function start(vars = {}, persistDir) {
  mock ??= await startMockOpenAI();
  const server = await startWrangler({
    persistDir,
    vars: {
      OPENAI_API_KEY: "sk-test-not-a-real-key",
      OPENAI_BASE_URL: mock.url,
      OPENAI_MODEL: "mock-model",
      JWT_SECRET: SECRET,
      UPSTREAM_RETRY_BASE_MS: 50,
      ...vars,
    },
  });
  servers.add(server);
  return server;
}

after(async () => {
  closeAll();
  for (const s of servers) await s.stop();
  await mock?.close();
});

/** Kills wrangler and workerd at once, as a crash would: no shutdown, no flush. */
async function kill(server) {
  const exited = new Promise((r) => server.child.once("exit", r));
  process.kill(-server.child.pid, "SIGKILL");
  await exited;
  servers.delete(server);
}

async function stop(server) {
  closeAll();
  servers.delete(server);
  await server.stop();
}

/** `session_created` for a new socket on the session (closed afterwards unless kept). */
async function rejoin(url, sessionId, { keep = false } = {}) {
  const socket = await connect(url, { sessionId });
  const created = await join(socket);
  if (!keep) socket.close();
  return keep ? { socket, created } : created;
}

/**
 * The Durable Objects under a persistence folder, by object id, each with the tables the
 * server made (miniflare's `__miniflare_do_name` and the runtime's `_cf_*` are not ours).
 * Read with node:sqlite (Node ≥ 22.13) or the sqlite3 CLI; `null` when neither is at hand.
 */
async function storedTables(persistDir) {
  const dir = path.join(persistDir, "v3/do/mia-server-MiaSession");
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^[0-9a-f]{64}\.sqlite$/.test(n)) : [];
  const query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_miniflare%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
  let sqlite = null;
  try { sqlite = await import("node:sqlite"); } catch { /* older Node */ }
  const tables = new Map();
  for (const name of files) {
    const file = path.join(dir, name);
    let names;
    if (sqlite?.DatabaseSync) {
      const db = new sqlite.DatabaseSync(file, { readOnly: true });
      try { names = db.prepare(query).all().map((r) => r.name); } finally { db.close(); }
    } else {
      try {
        names = execFileSync("sqlite3", [`file:${file}?mode=ro`, query]).toString().split("\n").filter(Boolean);
      } catch (e) {
        if (e.code === "ENOENT") return null;
        throw e;
      }
    }
    tables.set(name.slice(0, 64), names);
  }
  return tables;
}

describe("a crash mid-reply, then a restart on the same state", () => {
  test("the streamed text is kept within the bound, owed messages are answered, tier 3 gets its crisis reply", async () => {
    let server = await start();
    const persistDir = server.persistDir;
    const sessionId = uniqueSession("crash");
    const socket = await connect(server.url, { sessionId });
    await join(socket);
    mock.clear();
    // A slow reply: 80 words, 100 ms apart.
    mock.script({ chunks: Array.from({ length: 80 }, (_, i) => `w${i} `), delayMs: 100 });
    const seen = [];
    socket.on("message_chunk", (p) => seen.push({ ...p, at: Date.now() }));
    const first = await request(socket, "message", { message: "tell me a long story about a fox" });
    const owed = await request(socket, "message", { message: "are you still there?" });
    const crisis = await request(socket, "message", { message: "I want to kill myself" });
    assert.equal(first.queued, false);
    assert.equal(owed.queued, true);
    assert.equal(crisis.queued, true);
    await waitFor(socket, "message_chunk", (p) => p.messageId === first.replyId && p.index >= 19, 60_000);
    const killedAt = Date.now();
    await kill(server);
    const shown = seen.filter((c) => c.messageId === first.replyId);
    const shownText = shown.map((c) => c.chunk).join("");

    // Same state, new runtime. Mia's answers after the restart: one slow, then the default.
    mock.clear();
    mock.script({ chunks: Array.from({ length: 30 }, (_, i) => `back${i} `), delayMs: 200 });
    server = await start({}, persistDir);
    const { socket: back, created } = await rejoin(server.url, sessionId, { keep: true });
    const history = created.conversationHistory;

    // The user messages are all there, and the cut reply is stored as interrupted.
    assert.deepEqual(
      history.filter((m) => m.role === "user").map((m) => m.content),
      ["tell me a long story about a fox", "are you still there?", "I want to kill myself"],
    );
    const cut = history.find((m) => m.id === first.replyId);
    assert.ok(cut, "the interrupted reply is in the history");
    assert.equal(cut.interrupted, true);
    assert.ok(shownText.startsWith(cut.content), "what is stored is what the child saw");
    // Bound: the text is saved on the first chunk, then at least every 500 ms of streaming.
    // Every chunk shown well before the kill (1.5 s: the bound plus slack for a loaded machine) is stored.
    const early = shown.filter((c) => c.at <= killedAt - 1500).map((c) => c.chunk).join("");
    assert.ok(cut.content.length >= early.length, `stored ${cut.content.length} chars, shown by then ${early.length}`);
    const lostChunks = shown.length - cut.content.split(" ").filter(Boolean).length;
    console.log(`# crash: ${shown.length} chunks shown (100 ms apart), ${shown.length - lostChunks} stored, ${lostChunks} lost`);

    // The owed message is being answered, under the replyId its ack gave.
    const streaming = created.streaming;
    assert.ok(
      streaming?.messageId === owed.replyId || history.some((m) => m.id === owed.replyId),
      `the owed reply is streaming or done: ${JSON.stringify(streaming)}`,
    );
    const answered = await waitFor(back, "message_complete", (p) => p.messageId === owed.replyId, 60_000);
    assert.match(answered.message, /back0 /);
    const crisisReply = await waitFor(back, "message_complete", (p) => p.messageId === crisis.replyId, 60_000);
    assert.match(crisisReply.message, /988/);
    // The interrupted reply is not asked for again: two requests after the restart, in order.
    assert.deepEqual(
      mock.requests.map((r) => r.body.messages.at(-1).content),
      ["are you still there?", "I want to kill myself"],
    );

    // Everything is stored: a later visitor sees the same.
    back.close();
    const final = (await rejoin(server.url, sessionId)).conversationHistory;
    assert.deepEqual(
      final.map((m) => [m.role, m.id === first.replyId ? "cut" : m.content.slice(0, 6)]),
      [
        ["user", "tell m"], ["user", "are yo"], ["user", "I want"],
        ["assistant", "cut"], ["assistant", "back0 "], ["assistant", crisisReply.message.slice(0, 6)],
      ],
    );
    assert.equal(final.filter((m) => m.interrupted).length, 1);
    await stop(server);
  });
});

describe("a crash with nobody coming back", () => {
  test("the restarted session wakes on its alarm and finishes what it owed", async () => {
    // Short upstream timeouts: the wake-up comes 5 s after a reply's last possible moment.
    const vars = { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 1000, UPSTREAM_TIMEOUT_MS: 4000 };
    let server = await start(vars);
    const persistDir = server.persistDir;
    const sessionId = uniqueSession("alarm");
    const socket = await connect(server.url, { sessionId });
    await join(socket);
    mock.clear();
    mock.script({ chunks: Array.from({ length: 30 }, (_, i) => `a${i} `), delayMs: 100 });
    const first = await request(socket, "message", { message: "tell me about owls" });
    const owed = await request(socket, "message", { message: "and about bats?" });
    await waitFor(socket, "message_chunk", (p) => p.messageId === first.replyId && p.index >= 9, 60_000);
    await kill(server);
    mock.clear();
    server = await start(vars, persistDir);
    // Nobody connects: the alarm set before the crash wakes the object.
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && mock.requests.length === 0) await sleep(250);
    assert.deepEqual(mock.requests.map((r) => r.body.messages.at(-1).content), ["and about bats?"]);
    await sleep(1000);
    const history = (await rejoin(server.url, sessionId)).conversationHistory;
    assert.deepEqual(
      history.map((m) => [m.id, !!m.interrupted]),
      [[history[0].id, false], [history[1].id, false], [first.replyId, true], [owed.replyId, false]],
    );
    await stop(server);
  });
});

describe("a storage write that fails", () => {
  test("a reply over SQLite's value limit is surfaced as STORAGE_FAILED and kept out of memory and storage alike", async () => {
    const server = await start({ UPSTREAM_TIMEOUT_MS: 60_000 });
    const sessionId = uniqueSession("toobig");
    const socket = await connect(server.url, { sessionId });
    await join(socket);
    mock.clear();
    // 10 MB of reply: more than a SQLite value may hold in a Durable Object (2 MB on Cloudflare;
    // the workerd of wrangler 4.164 refuses only past about 8 MiB).
    mock.script({ chunks: Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(100_000, ".")) });
    const ack = await request(socket, "message", { message: "write me the longest story" });
    const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId, 60_000);
    assert.equal(complete.message.length, 10_000_000);
    const error = await waitFor(socket, "error", (p) => p.code === "STORAGE_FAILED", 30_000);
    assert.equal(error.retryable, true);
    assert.equal(error.messageId, ack.replyId);
    assert.ok(server.logs.some((l) => l.includes("storage_retry")), "the shell retried first");

    // Memory and storage agree: the user message is kept, the unsaved reply is in neither.
    const history = (await rejoin(server.url, sessionId)).conversationHistory;
    assert.deepEqual(history.map((m) => m.content), ["write me the longest story"]);
    // The session goes on.
    const next = await converse(socket, "a short one then");
    assert.equal(next.ack.ok, true);
    const after = (await rejoin(server.url, sessionId)).conversationHistory;
    assert.deepEqual(after.map((m) => m.role), ["user", "user", "assistant"]);

    // After a restart nothing comes back as owed or interrupted.
    await kill(server);
    mock.clear();
    const again = await start({}, server.persistDir);
    const restored = (await rejoin(again.url, sessionId)).conversationHistory;
    assert.deepEqual(restored.map((m) => [m.role, !!m.interrupted]), [["user", false], ["user", false], ["assistant", false]]);
    await sleep(500);
    assert.equal(mock.requests.length, 0, "no reply is owed");
    await stop(again);
  });
});

describe("a user message that cannot be stored", () => {
  test("is surfaced as STORAGE_FAILED, not answered, and in neither memory nor storage", async () => {
    // 2,500,000 four-byte characters: within MAX_MESSAGE_CHARS here, 10 MB for SQLite (over
    // Cloudflare's 2 MB and the local workerd's 8 MiB).
    const server = await start({ MAX_MESSAGE_CHARS: "3000000", MAX_PAYLOAD: "20000000" });
    const sessionId = uniqueSession("bigmsg");
    const socket = await connect(server.url, { sessionId });
    await join(socket);
    mock.clear();
    const ack = await request(socket, "message", { message: "🙂".repeat(2_500_000) }, 30_000);
    assert.equal(ack.ok, true);
    const error = await waitFor(socket, "error", (p) => p.code === "STORAGE_FAILED", 30_000);
    assert.equal(error.retryable, true);
    assert.equal(error.messageId, ack.messageId);
    await sleep(1000);
    assert.equal(mock.requests.length, 0, "a message that is not stored is not answered");
    const created = await rejoin(server.url, sessionId);
    assert.deepEqual(created.conversationHistory, []);
    // The next message is stored (with the session row the failed one did not get) and answered.
    const next = await converse(socket, "a short one");
    assert.equal(next.ack.ok, true);
    await kill(server);
    const again = await start({}, server.persistDir);
    const history = (await rejoin(again.url, sessionId)).conversationHistory;
    assert.deepEqual(history.map((m) => m.role), ["user", "assistant"]);
    assert.equal(history[0].content, "a short one");
    await stop(again);
  });
});

describe("storage per message", () => {
  test("each message is one transaction on arrival and one with its reply, one statement each", async () => {
    const server = await start();
    const { socket } = await rejoin(server.url, uniqueSession("count"), { keep: true });
    mock.clear();
    const commits = () => server.logs.filter((l) => l.includes('"storage_commit"')).map((l) => JSON.parse(l.slice(l.indexOf("{"))));
    const before = commits().length;
    const messages = ["hello", "I'm 12", "school was ok", "we had a quiz", "bye for now"];
    for (const m of messages) assert.equal((await converse(socket, m)).ack.ok, true);
    await sleep(500);
    const mine = commits().slice(before);
    const statements = mine.reduce((n, c) => n + c.statements, 0);
    console.log(`# storage: ${messages.length} messages → ${mine.length} transactions, ${statements} statements (${(mine.length / messages.length).toFixed(1)} transactions per message)`);
    // The mock's replies stream within 500 ms: no partial save, so exactly two per message,
    // each one statement (the user message names the reply it is owed; the reply settles it),
    // plus the session row with the first message and when "I'm 12" sets the age.
    assert.equal(mine.length, 2 * messages.length);
    assert.equal(statements, 2 * messages.length + 2);
    assert.ok(mine.every((c) => c.attempt === 1));
    await stop(server);
  });
});

describe("storage and retention", () => {
  test("ids without a message leave nothing stored; a session idle past SESSION_RETENTION_DAYS deletes itself", async () => {
    // 0.00005 day = 4.32 s.
    const server = await start({ SESSION_RETENTION_DAYS: "0.00005", CONNECT_TIMEOUT_MS: 1000, OFFLINE_CHUNK_DELAY_MS: 1 });
    const before = await storedTables(server.persistDir);
    // A socket that never sends CONNECT, a refused CONNECT, a join with no message, a polling handshake.
    const raw = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sessionId=${uniqueSession("silent")}`);
    await new Promise((r) => raw.once("message", r));
    await new Promise((r) => raw.once("close", r));
    const err = await refused(server.url, { sessionId: uniqueSession("badtoken"), token: "not-a-token" });
    assert.equal(err?.data?.code, "AUTH_INVALID");
    const joined = await rejoin(server.url, uniqueSession("joinonly"));
    assert.equal(joined.isNew, true);
    const poll = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sessionId=${uniqueSession("pollonly")}`);
    assert.equal(poll.status, 200);
    await sleep(1500);
    const touched = await storedTables(server.persistDir);
    const fresh = (tables) => [...tables].filter(([id]) => !before.has(id));
    if (touched) {
      assert.ok(fresh(touched).length >= 3, "the objects were created (and read)");
      assert.deepEqual(fresh(touched).filter(([, t]) => t.length > 0), [], "no table for ids that never got a message");
    } else {
      console.log("# storage: neither node:sqlite nor sqlite3 here; the objects' tables were not inspected");
    }

    // A real message stores the session (the check above can see one)…
    const sessionId = uniqueSession("retained");
    const { socket, created } = await rejoin(server.url, sessionId, { keep: true });
    assert.equal(created.isNew, true);
    const reply = await converse(socket, "hello there");
    assert.equal(reply.ack.ok, true);
    await sleep(300);
    let objectId;
    if (touched) {
      const withTables = fresh(await storedTables(server.persistDir)).filter(([, t]) => t.length > 0);
      assert.equal(withTables.length, 1, "the session with a message is stored");
      assert.deepEqual(withTables[0][1], ["messages", "meta", "safety_events", "schema_version"]);
      objectId = withTables[0][0];
    }
    // …and deletes itself once idle past the retention time (its alarm fires, deleteAll).
    socket.close();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !server.logs.some((l) => l.includes('"session_expired"'))) await sleep(250);
    assert.ok(server.logs.some((l) => l.includes('"session_expired"')), "the session expired");
    await sleep(500);
    const back = await rejoin(server.url, sessionId);
    assert.deepEqual(back.conversationHistory, []);
    assert.equal(back.isNew, true);
    assert.equal(back.safetyTier, 1);
    if (objectId) {
      const left = (await storedTables(server.persistDir)).get(objectId);
      assert.deepEqual(left, [], "deleteAll left no table behind");
    }
    await stop(server);
  });
});
