// Safety in the running server: alerts before the reply, URGENCY, crisis resources
// in every tier-3 reply even when the model forgets them or fails, and the
// moderation endpoint's second opinion.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { closeAll, connect, join, joinedSession, request, waitFor } from "../support/client.mjs";

let mock;
let server;

before(async () => {
  mock = await startMockOpenAI();
  server = await startWrangler({
    vars: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: mock.url, UPSTREAM_RETRY_BASE_MS: 20 },
  });
});
after(async () => { closeAll(); await server?.stop(); await mock?.close(); });

async function fresh() {
  mock.clear();
  return joinedSession(server.url, "safety");
}

/** Sends a message; resolves with the events up to its message_complete. */
async function exchange(socket, message) {
  const start = socket.received.length;
  const ack = await request(socket, "message", { message });
  const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId, 20_000);
  return { ack, complete, events: socket.received.slice(start) };
}

/** The rule ids the server logged for the message with this id (logs arrive a little later). */
async function loggedRules(messageId) {
  for (let waited = 0; waited < 5000; waited += 50) {
    const line = server.logs.find((l) => l.includes('"msg":"message_received"') && l.includes(messageId));
    if (line) return JSON.parse(line.slice(line.indexOf("{"))).rules.split(",").filter(Boolean);
    await sleep(50);
  }
  throw new Error(`no message_received log for ${messageId}`);
}

describe("tier 3", () => {
  test("safety_alert comes before the first chunk, with URGENCY and 988 even when the model leaves it out", async () => {
    const { socket } = await fresh();
    mock.script({ chunks: ["I'm really ", "sorry you're ", "hurting."], delayMs: 20 });
    const { events, complete } = await exchange(socket, "i don't want to wake up tomorrow");
    const names = events.map(([n]) => n);
    const alertAt = names.indexOf("safety_alert");
    assert.ok(alertAt >= 0 && alertAt < names.indexOf("message_chunk"), names.join(","));
    const alert = events[alertAt][1];
    assert.equal(alert.tier, 3);
    assert.deepEqual(alert.categories, ["suicide"]);
    assert.ok(alert.resources.some((r) => r.phone === "988"));
    const mode = events.find(([n]) => n === "mode_changed")[1];
    assert.equal(mode.mode, "URGENCY");
    assert.match(complete.message, /^I'm really sorry you're hurting\./);
    assert.match(complete.message, /988/);
    assert.match(complete.message, /741741/);
    assert.equal(complete.safetyTier, 3);
    assert.equal(complete.mode, "URGENCY");
    // The model was told, in its system prompt.
    assert.match(mock.requests.at(-1).body.messages[0].content, /Safety tier: 3/);
    assert.match(mock.requests.at(-1).body.messages[0].content, /URGENCY/);
  });

  test("when the model fails, a vetted crisis message with 988 is sent instead of an error", async () => {
    const { socket } = await fresh();
    mock.script({ status: 500 }, { status: 500 }, { status: 500 });
    const { complete, events } = await exchange(socket, "my uncle touches me and says it's our secret");
    assert.equal(events.find(([n]) => n === "safety_alert")[1].tier, 3);
    assert.match(complete.message, /988/);
    assert.match(complete.message, /911/);
    assert.ok(!events.some(([n, p]) => n === "error" && p.code === "UPSTREAM_UNAVAILABLE"));
  });

  test("a reply that already names the resources is left as it is", async () => {
    const { socket } = await fresh();
    const reply = "You matter. Call or text 988, text HOME to 741741, or call 911 if you are in danger.";
    mock.script({ chunks: [reply] });
    const { complete } = await exchange(socket, "i want to kill myself");
    assert.equal(complete.message, reply);
  });

  test("URGENCY stays, and the session tier never goes down", async () => {
    const { socket, sessionId } = await fresh();
    await exchange(socket, "kms");
    const later = await exchange(socket, "thanks, I like cats");
    assert.equal(later.complete.mode, "URGENCY");
    assert.equal(later.complete.safetyTier, 3);
    const s2 = await connect(server.url, { sessionId });
    const created = await join(s2);
    assert.equal(created.safetyTier, 3);
    assert.equal(created.mode, "URGENCY");
  });
});

describe("tier 2 and tier 1", () => {
  test("substance use gets a tier-2 alert with SAMHSA", async () => {
    const { socket } = await fresh();
    const { events } = await exchange(socket, "i've been vaping every day and can't stop");
    const alert = events.find(([n]) => n === "safety_alert")[1];
    assert.equal(alert.tier, 2);
    assert.deepEqual(alert.categories, ["substances"]);
    assert.equal(alert.resources[0].phone, "1-800-662-4357");
  });

  test("figures of speech get no alert", async () => {
    const { socket } = await fresh();
    const { events, complete } = await exchange(socket, "this homework is killing me, I died laughing at my phone dying");
    assert.ok(!events.some(([n]) => n === "safety_alert"));
    assert.equal(complete.safetyTier, 1);
  });
});

describe("moderation second opinion", () => {
  test("self-harm/intent from moderation raises a tier-1 message to 3 and the reply carries 988", async () => {
    const { socket } = await fresh();
    mock.moderate = () => ["self-harm", "self-harm/intent"];
    mock.script({ chunks: ["That ", "sounds ", "heavy."], delayMs: 150 });
    const text = "i know what i'm going to do now";
    const { ack, events, complete } = await exchange(socket, text);
    assert.deepEqual(await loggedRules(ack.messageId), [], "the local classifier leaves it at tier 1");
    const alert = events.find(([n]) => n === "safety_alert");
    assert.ok(alert, "moderation raised an alert");
    assert.equal(alert[1].tier, 3);
    assert.equal(events.find(([n]) => n === "mode_changed")[1].mode, "URGENCY");
    assert.match(complete.message, /988/);
    assert.equal(mock.moderations.at(-1).body.model, "omni-moderation-latest");
    assert.equal(mock.moderations.at(-1).body.input, text);
  });

  test("moderation never lowers a tier, and its failure does not block the reply", async () => {
    const { socket } = await fresh();
    mock.moderate = () => { throw new Error("moderation down"); };
    const { complete } = await exchange(socket, "hello there");
    assert.ok(complete.message.length > 0);
    await sleep(200);
    mock.moderate = () => [];
    const { events } = await exchange(socket, "i want to die");
    assert.equal(events.find(([n]) => n === "safety_alert")[1].tier, 3);
  });
});

describe("learned classifier and conversation context", () => {
  test("danger with no crisis keyword is caught by the learned model: alert first, resources in the reply", async () => {
    const { socket } = await fresh();
    mock.script({ chunks: ["Thank you ", "for telling me."], delayMs: 20 });
    const text = "i gave away my games and my dog, wrote everyone a letter, and i won't be around after this weekend";
    const { ack, events, complete } = await exchange(socket, text);
    const names = events.map(([n]) => n);
    const alertAt = names.indexOf("safety_alert");
    assert.ok(alertAt >= 0 && alertAt < names.indexOf("message_chunk"), names.join(","));
    assert.equal(events[alertAt][1].tier, 3);
    assert.deepEqual(events[alertAt][1].categories, ["suicide"]);
    assert.match(complete.message, /988/);
    assert.equal(complete.mode, "URGENCY");
    const rules = await loggedRules(ack.messageId);
    assert.ok(rules.includes("model.suicide"), `logged rules: ${rules}`);
    assert.ok(!rules.some((r) => r.startsWith("suicide.")), `no rule saw it: ${rules}`);
  });

  test("danger that builds over a conversation raises the tier at the message that tips it, and never drops", async () => {
    const { socket, sessionId } = await fresh();
    const build = [
      "i'm so tired of all of it",
      "i feel like i'm just taking up space",
      // Leans toward suicide without reaching its threshold alone.
      "i don't think i can keep doing this",
    ];
    for (const [i, text] of build.entries()) {
      const { ack, events, complete } = await exchange(socket, text);
      const alert = events.find(([n]) => n === "safety_alert")?.[1];
      if (i < build.length - 1) {
        assert.equal(alert, undefined, `no alert yet at message ${i + 1}`);
        assert.equal(complete.safetyTier, 1);
        continue;
      }
      assert.equal(alert?.tier, 3, "the last message tips it");
      assert.deepEqual(alert.categories, ["suicide"]);
      assert.equal(complete.mode, "URGENCY");
      assert.match(complete.message, /988/);
      assert.ok((await loggedRules(ack.messageId)).includes("context.suicide"));
    }
    // An ordinary message afterwards, and a reload: the tier stays 3.
    const { complete } = await exchange(socket, "what should i eat for dinner");
    assert.equal(complete.safetyTier, 3);
    const again = await connect(server.url, { sessionId });
    assert.equal((await join(again)).safetyTier, 3);
  });

  test("the context holds across a reconnect", async () => {
    const { socket, sessionId } = await fresh();
    await exchange(socket, "i'm so tired of all of it");
    await exchange(socket, "i feel like i'm just taking up space");
    socket.disconnect();
    const again = await connect(server.url, { sessionId });
    await join(again);
    const { events } = await exchange(again, "i don't think i can keep doing this");
    assert.equal(events.find(([n]) => n === "safety_alert")?.[1].tier, 3);
  });
});
