// Mia's demo chat page: the stock socket.io-client against this server.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const els = {
    connection: $("connection"), mode: $("mode"), messages: $("messages"), status: $("status"),
    form: $("composer"), input: $("input"), send: $("send"), newConversation: $("new-conversation"),
    safety: $("safety"), safetyTitle: $("safety-title"), safetyText: $("safety-text"), safetyResources: $("safety-resources"),
  };
  const store = {
    get: (k) => { try { return localStorage.getItem(`mia.${k}`); } catch { return null; } },
    set: (k, v) => { try { v == null ? localStorage.removeItem(`mia.${k}`) : localStorage.setItem(`mia.${k}`, v); } catch { /* private mode */ } },
  };
  const streaming = new Map(); // messageId → <li>
  let socket = null;

  function setConnection(text, kind) {
    els.connection.textContent = text;
    els.connection.className = `pill pill-${kind}`;
  }

  function say(text) { els.status.textContent = text || ""; }

  function addMessage(role, content, { id, interrupted } = {}) {
    const li = document.createElement("li");
    li.className = `msg ${role}`;
    if (id) li.dataset.id = id;
    li.setAttribute("aria-label", role === "user" ? "You said" : "Mia said");
    li.textContent = content;
    if (interrupted) markInterrupted(li);
    els.messages.appendChild(li);
    li.scrollIntoView({ block: "end", behavior: "smooth" });
    return li;
  }

  function markInterrupted(li) {
    if (li.querySelector(".note")) return;
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = "(reply cut short)";
    li.appendChild(note);
  }

  function showSafety(tier, resources) {
    els.safety.hidden = false;
    els.safety.className = `safety tier-${tier}`;
    els.safetyTitle.textContent = tier >= 3 ? "You don't have to go through this alone" : "Help is there if you want it";
    els.safetyText.textContent = tier >= 3
      ? "If you are in danger or thinking about hurting yourself, please reach out now:"
      : "If you'd like to talk to someone about alcohol or drugs, this is free and confidential:";
    els.safetyResources.replaceChildren(...resources.map((r) => {
      const li = document.createElement("li");
      const strong = document.createElement("strong");
      strong.textContent = r.name;
      li.appendChild(strong);
      if (r.phone) {
        li.append(" — ");
        const a = document.createElement("a");
        a.href = `tel:${r.phone.replace(/[^0-9+]/g, "")}`;
        a.textContent = r.phone;
        li.appendChild(a);
      }
      if (r.text) li.append(` — ${r.text}`);
      return li;
    }));
  }

  async function token() {
    const saved = store.get("token");
    if (saved) return saved;
    try {
      const r = await fetch("/api/auth/token", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      if (!r.ok) return null; // the server may run without JWT_SECRET: continue anonymously
      const { token } = await r.json();
      store.set("token", token);
      return token;
    } catch {
      return null;
    }
  }

  async function start() {
    setConnection("Connecting…", "wait");
    const sessionId = store.get("sessionId");
    const auth = await token();
    socket = io(location.origin, {
      transports: ["websocket"],
      auth: auth ? { token: auth } : {},
      query: sessionId ? { sessionId } : {},
    });
    socket.on("connect", () => {
      setConnection("Connected", "ok");
      say("");
      socket.emit("join_session", {}, () => {});
    });
    socket.on("disconnect", () => setConnection("Reconnecting…", "wait"));
    socket.on("connect_error", async (err) => {
      const code = err?.data?.code;
      if (code === "FORBIDDEN" || code === "AUTH_INVALID" || code === "AUTH_EXPIRED") {
        // This browser's token or session is no longer valid: start afresh.
        say("Your previous conversation could not be opened, so a new one was started.");
        store.set("token", null);
        store.set("sessionId", null);
        socket.close();
        start();
        return;
      }
      setConnection("Offline", "bad");
      say(`Can't reach Mia right now (${err.message}). Retrying…`);
    });
    socket.on("session_created", (s) => {
      store.set("sessionId", s.sessionId);
      socket.io.opts.query = { sessionId: s.sessionId }; // reconnects rejoin this session
      els.messages.replaceChildren();
      streaming.clear();
      for (const m of s.conversationHistory) addMessage(m.role, m.content, m);
      els.mode.textContent = s.mode;
      if (s.safetyTier >= 2 && s.resources) showSafety(s.safetyTier, s.resources);
      if (s.streaming) {
        const li = addMessage("assistant", s.streaming.partial || "", { id: s.streaming.messageId });
        li.classList.add("streaming");
        streaming.set(s.streaming.messageId, li);
      }
    });
    socket.on("message_chunk", ({ messageId, chunk }) => {
      let li = streaming.get(messageId);
      if (!li) {
        li = addMessage("assistant", "", { id: messageId });
        li.classList.add("streaming");
        streaming.set(messageId, li);
      }
      li.textContent += chunk;
      li.scrollIntoView({ block: "end" });
    });
    socket.on("message_complete", ({ messageId, message, mode, interrupted }) => {
      const li = streaming.get(messageId) || addMessage("assistant", "", { id: messageId });
      li.textContent = message;
      li.classList.remove("streaming");
      if (interrupted) markInterrupted(li);
      streaming.delete(messageId);
      els.mode.textContent = mode;
    });
    socket.on("mode_changed", ({ mode }) => { els.mode.textContent = mode; });
    socket.on("safety_alert", ({ tier, resources }) => showSafety(tier, resources));
    socket.on("error", (e) => {
      const wait = e.retryAfterMs ? ` Please wait ${Math.ceil(e.retryAfterMs / 1000)} s.` : "";
      say(`${e.message}${wait}`);
    });
  }

  function send() {
    const text = els.input.value.trim();
    if (!text || !socket) return;
    if (!socket.connected) { say("Not connected yet; your message is still in the box."); return; }
    addMessage("user", text);
    els.input.value = "";
    say("");
    socket.emit("message", { message: text }, (ack) => {
      if (ack && !ack.ok) {
        say(ack.error.message);
        els.messages.lastElementChild?.remove();
        els.input.value = text; // nothing typed is lost
      }
    });
  }

  els.form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  els.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  els.newConversation.addEventListener("click", () => {
    store.set("sessionId", null);
    els.messages.replaceChildren();
    els.safety.hidden = true;
    els.mode.textContent = "GREETING";
    socket?.close();
    start();
    els.input.focus();
  });
  start();
})();
