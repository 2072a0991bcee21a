// The safety judge in the running server: a chat model with the rubric, asked beside every
// reply (the mock answers it with a scripted verdict). It may raise a tier, never lower
// one, and a malformed, failed or slow verdict neither changes nor delays anything.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { closeAll, connect, converse, join, joinedSession } from "../support/client.mjs";

const JUDGE_TIMEOUT_MS = 1500;
let mock;
let server;

before(async () => {
  mock = await startMockOpenAI({ judgeModel: "mock-judge" });
  server = await startWrangler({
    vars: {
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: mock.url,
      SAFETY_MODEL: "mock-judge",
      SAFETY_JUDGE_TIMEOUT_MS: JUDGE_TIMEOUT_MS,
      UPSTREAM_RETRY_BASE_MS: 20,
    },
  });
});
after(async () => { closeAll(); await server?.stop(); await mock?.close(); });

async function fresh() {
  mock.clear();
  return joinedSession(server.url, "judge");
}

/** The server's log records named `msg`, parsed. */
function records(msg) {
  return server.logs
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l.slice(l.indexOf("{"))));
}

/** Resolves once `pred()` holds, polling. */
async function until(pred, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const named = (events, name) => events.filter(([n]) => n === name).map(([, p]) => p);

describe("the judge raises", () => {
  test("a message the rules leave at tier 1 that the judge calls tier 3: alert, URGENCY and the resources in the reply", async () => {
    const { socket, sessionId } = await fresh();
    const first = await converse(socket, "i finished my book today");
    assert.equal(named(first.events, "safety_alert").length, 0, "the local classifier and the judge saw nothing yet");
    // The (scripted) judge sees danger the local classifier does not.
    const ready = "ok, what should we talk about";
    mock.judge = (message) => (message === ready ? { verdict: { tier: 3, categories: ["suicide"], reason: "plan in context" } } : undefined);
    mock.script({ chunks: ["I'm ", "listening. ", "Tell me more."], delayMs: 150 });
    const { events, complete, ack } = await converse(socket, ready);

    const alerts = named(events, "safety_alert");
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].tier, 3);
    assert.deepEqual(alerts[0].categories, ["suicide"]);
    assert.equal(alerts[0].messageId, ack.messageId);
    assert.ok(alerts[0].resources.some((r) => r.phone === "988"));
    const modes = named(events, "mode_changed");
    assert.equal(modes.length, 1);
    assert.equal(modes[0].mode, "URGENCY");
    assert.match(modes[0].reason, /judge/);
    assert.match(complete.message, /^I'm listening\. Tell me more\./);
    assert.match(complete.message, /988/);
    assert.match(complete.message, /741741/);
    assert.equal(complete.safetyTier, 3);
    assert.equal(complete.mode, "URGENCY");
    assert.ok(
      records("second_opinion").some((r) => r.source === "judge" && r.messageId === ack.messageId && r.raised === true),
      "the judge, not the rules, raised it",
    );

    // The judge was asked as the contract says, with the conversation before the message.
    const asked = mock.judgements.find((j) => j.message === ready);
    assert.equal(asked.body.model, "mock-judge");
    assert.equal(asked.body.temperature, 0);
    assert.equal(asked.body.stream, false);
    assert.deepEqual(asked.body.response_format, { type: "json_object" });
    assert.match(asked.body.messages[0].content, /C-SSRS/);
    assert.deepEqual(asked.context, [
      { role: "user", content: "i finished my book today" },
      { role: "assistant", content: first.complete.message },
    ]);

    // The raise is stored: a reload shows tier 3, URGENCY and the banner's resources.
    const again = await connect(server.url, { sessionId });
    const created = await join(again);
    assert.equal(created.safetyTier, 3);
    assert.equal(created.mode, "URGENCY");
    assert.ok(created.resources.some((r) => r.phone === "988"));
  });

  test("a tier-1 verdict on a message the rules put at tier 3 lowers nothing", async () => {
    const { socket } = await fresh();
    mock.judge = () => ({ verdict: { tier: 1, categories: [], reason: "figure of speech" } });
    const { events, complete, ack } = await converse(socket, "i want to kill myself");
    assert.equal(named(events, "safety_alert")[0].tier, 3);
    assert.match(complete.message, /988/);
    await until(() => records("second_opinion").some((r) => r.source === "judge" && r.messageId === ack.messageId), "the verdict");
    const later = await converse(socket, "thanks, I like cats");
    assert.equal(named(later.events, "safety_alert").length, 0);
    assert.equal(later.complete.safetyTier, 3);
    assert.equal(later.complete.mode, "URGENCY");
  });
});

describe("the judge failing changes nothing", () => {
  test("malformed verdicts are ignored, logged without the text, and the reply arrives normally", async () => {
    const { socket } = await fresh();
    const malformed = [
      "I think this is fine.",
      JSON.stringify({ tier: 4, categories: ["suicide"], reason: "x" }),
      JSON.stringify({ tier: 3, categories: ["violence"], reason: "x" }),
      JSON.stringify({ tier: "3", categories: ["suicide"] }),
    ];
    const sent = [];
    for (const [i, content] of malformed.entries()) {
      mock.judge = () => ({ content });
      const text = `tell me a fun fact number ${i}`;
      const { events, complete, ack } = await converse(socket, text);
      sent.push({ text, id: ack.messageId });
      assert.equal(complete.message, `Mock reply to: ${text}`);
      assert.equal(complete.safetyTier, 1);
      assert.equal(complete.mode, "GREETING");
      assert.deepEqual(events.map(([n]) => n).filter((n) => n !== "message_chunk"), ["message_complete"]);
      await until(() => records("judge_failed").some((r) => r.messageId === ack.messageId), `judge_failed for ${i}`);
    }
    await sleep(200);
    assert.ok(!socket.received.some(([n]) => n === "safety_alert" || n === "mode_changed"));
    for (const { text } of sent) assert.ok(!server.logs.some((l) => l.includes(text)), "no message text in the logs");
    for (const r of records("judge_failed")) assert.equal(r.level, "warn");
  });

  test("a judge slower than its timeout delays nothing, and its late verdict counts for nothing", async () => {
    const { socket } = await fresh();
    const slowMs = JUDGE_TIMEOUT_MS + 2500;
    mock.judge = () => ({ delayMs: slowMs, verdict: { tier: 3, categories: ["suicide"], reason: "late" } });
    const started = Date.now();
    const { complete, ack } = await converse(socket, "how was your day");
    const elapsed = Date.now() - started;
    assert.equal(complete.message, "Mock reply to: how was your day");
    assert.ok(elapsed < JUDGE_TIMEOUT_MS, `the reply took ${elapsed} ms`);
    await until(
      () => records("judge_failed").some((r) => r.messageId === ack.messageId && r.error === "timeout"),
      "the judge's timeout",
      slowMs,
    );
    await sleep(slowMs - (Date.now() - started) + 300);
    assert.ok(!socket.received.some(([n]) => n === "safety_alert" || n === "mode_changed"));
    const next = await converse(socket, "and yours?");
    assert.equal(next.complete.safetyTier, 1);
  });

  test("a judge answering 500 delays nothing", async () => {
    const { socket } = await fresh();
    mock.judge = () => ({ status: 500 });
    const { complete, ack, events } = await converse(socket, "tell me about space");
    assert.equal(complete.message, "Mock reply to: tell me about space");
    assert.equal(complete.safetyTier, 1);
    assert.ok(!events.some(([n]) => n === "error"));
    await until(() => records("judge_failed").some((r) => r.messageId === ack.messageId && r.error === "status 500"), "judge_failed");
  });
});
