// Helpers around the real socket.io-client from npm.
import { io } from "socket.io-client";

const opened = new Set();

/** Connects (websocket transport); resolves once connected, rejects with the connect_error. */
export function connect(url, { sessionId, token, auth, query = {}, extraHeaders, timeoutMs = 10_000 } = {}) {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    auth: auth ?? (token ? { token } : undefined),
    query: sessionId ? { sessionId, ...query } : query,
    extraHeaders,
    timeout: timeoutMs,
  });
  opened.add(socket);
  record(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => { socket.close(); reject(err); });
  });
}

/** Every event a socket receives, in order, as [name, payload]. */
function record(socket) {
  socket.received = [];
  socket.onAny((name, payload) => socket.received.push([name, payload]));
}

/** Connects and expects a refusal: resolves with the connect_error, or null if it connected. */
export async function refused(url, opts) {
  try {
    const s = await connect(url, opts);
    s.close();
    return null;
  } catch (err) {
    return err;
  }
}

export function closeAll() {
  for (const s of opened) s.close();
  opened.clear();
}

/** Resolves with the first `event` payload matching `pred` (including ones already received). */
export function waitFor(socket, event, pred = () => true, timeoutMs = 10_000) {
  const seen = socket.received.find(([n, p]) => n === event && pred(p));
  if (seen) return Promise.resolve(seen[1]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off(event, on); reject(new Error(`timed out waiting for ${event}`)); }, timeoutMs);
    const on = (p) => { if (pred(p)) { clearTimeout(timer); socket.off(event, on); resolve(p); } };
    socket.on(event, on);
  });
}

/** Emits with an ack and resolves with the ack's first argument. */
export function request(socket, event, payload, timeoutMs = 10_000) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/** Joins the session and returns `session_created`. */
export async function join(socket, payload = {}) {
  const created = waitFor(socket, "session_created", () => true);
  const ack = await request(socket, "join_session", payload);
  if (!ack.ok) throw new Error(`join failed: ${JSON.stringify(ack)}`);
  return created;
}

/** Sends a message and waits for its complete reply; returns { ack, chunks, complete, events }. */
export async function converse(socket, message, { timeoutMs = 20_000 } = {}) {
  const start = socket.received.length;
  const ack = await request(socket, "message", { message });
  if (!ack.ok) return { ack };
  const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId, timeoutMs);
  const events = socket.received.slice(start);
  const chunks = events.filter(([n, p]) => n === "message_chunk" && p.messageId === ack.replyId).map(([, p]) => p);
  return { ack, chunks, complete, events };
}

/** A new session, joined over one socket: { sessionId, socket }. */
export async function joinedSession(url, prefix) {
  const sessionId = uniqueSession(prefix);
  const socket = await connect(url, { sessionId });
  await join(socket);
  return { sessionId, socket };
}

export function uniqueSession(prefix = "test") {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
