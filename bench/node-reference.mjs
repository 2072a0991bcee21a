// A stand-in for the original Node.js server, for `npm run bench -- --node-reference`:
// Express + Socket.IO + the OpenAI SDK, streaming deltas as `message_chunk` and ending with
// `message_complete`, with the history in memory. The original's code is not available
// here; this is written from its description and does less per message than Mia (no
// safety, age or mode rules, no storage, no moderation), so its figures are a floor for
// the original's costs, not a measurement of it.
// node bench/node-reference.mjs OPENAI_BASE_URL → prints its URL, then serves.
import http from "node:http";
import express from "express";
import { Server } from "socket.io";
import OpenAI from "openai";

const openai = new OpenAI({ apiKey: "sk-bench", baseURL: process.argv[2] });
const app = express();
app.get("/health", (_req, res) => res.json({ status: "ok" }));
const server = http.createServer(app);
const io = new Server(server, { cors: { origin: "*" } });
const histories = new Map();

io.on("connection", (socket) => {
  const sessionId = String(socket.handshake.query.sessionId ?? socket.id);
  socket.join(sessionId);
  const history = histories.get(sessionId) ?? [];
  histories.set(sessionId, history);
  socket.on("join_session", () => {
    socket.emit("session_created", { sessionId, userId: null, age: null, mode: "greeting", safetyTier: 1, conversationHistory: history, isNew: history.length === 0 });
  });
  socket.on("message", async ({ message } = {}) => {
    if (typeof message !== "string" || !message.trim()) {
      socket.emit("error", { code: "INVALID_MESSAGE", message: "Message is empty", retryable: false });
      return;
    }
    history.push({ role: "user", content: message });
    const messageId = `msg_${Date.now()}_${Math.random().toString(36).slice(2)}`;
    let text = "";
    let index = 0;
    try {
      const stream = await openai.chat.completions.create({
        model: "gpt-4o",
        temperature: 0.7,
        stream: true,
        messages: [{ role: "system", content: "You are Mia, a warm companion." }, ...history.slice(-20)],
      });
      for await (const part of stream) {
        const chunk = part.choices[0]?.delta?.content;
        if (!chunk) continue;
        text += chunk;
        io.to(sessionId).emit("message_chunk", { sessionId, messageId, chunk, index: index++ });
      }
      history.push({ role: "assistant", content: text });
      io.to(sessionId).emit("message_complete", { sessionId, messageId, message: text, mode: "greeting", safetyTier: 1 });
    } catch (e) {
      socket.emit("error", { code: "UPSTREAM_UNAVAILABLE", message: String(e.message), retryable: true });
    }
  });
});

server.listen(0, "127.0.0.1", () => console.log(`http://127.0.0.1:${server.address().port}`));
