//! The shell of a relay between Durable Objects ([`crate::session::relay`] decides): opens the
//! internal WebSocket to the target session's object, moves frames both ways, and reports
//! how it ended to the core. The target side admits a relay through the core's check.

use futures::StreamExt;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Env, Headers, Method, Request, RequestInit, WebSocket, WebsocketEvent};

use super::{frame_of, now_ms, send_frames, BINDING, SESSION_HEADER, TARGET_HEADER};
use crate::log::{Level, Record};
use crate::protocol::engineio::Frame;
use crate::session::relay::{Identity, Refusal, RelayCommand};

/// What a relay asks of the object whose connection it serves (the Durable Object).
pub(super) trait Host: 'static {
    /// The object, for the relay's own task.
    fn me(&self) -> Option<Rc<Self>>;
    fn env(&self) -> &Env;
    fn relays(&self) -> &Relays;
    fn log(&self, record: Record);
    /// Tells the core the relay for `sid` is open, and carries out its answer.
    async fn relay_opened(&self, sid: &str);
    /// A frame from the far end, for the client of `sid`.
    async fn relayed(&self, sid: &str, frame: Frame);
    /// Tells the core the relay failed or ended, then answers here the frames `held`
    /// while it opened, and runs the replies they start.
    async fn relay_failed(&self, sid: &str, refusal: Refusal, held: Vec<Frame>);
}

/// The `X-Mia-Target` of a relay request.
pub(super) const TARGET: &str = "relay";

struct Link {
    /// Which `Open` this is (a lost relay may be opened again for the same sid).
    generation: u64,
    ws: Option<WebSocket>,
    /// The `join_session` that asked for the relay; answered here if the relay fails.
    first: Vec<Frame>,
    /// Frames sent while it opens, forwarded in order once it is open.
    held: Vec<Frame>,
}

/// This object's relays, by the sid of the connection they serve.
#[derive(Default)]
pub(super) struct Relays {
    links: RefCell<HashMap<String, Link>>,
    generation: Cell<u64>,
}

impl Relays {
    pub(super) fn command(&self, host: &impl Host, command: RelayCommand) {
        match command {
            RelayCommand::Open {
                sid,
                session_id,
                identity,
                first,
            } => {
                let generation = self.generation.get() + 1;
                self.generation.set(generation);
                let link = Link {
                    generation,
                    ws: None,
                    first,
                    held: Vec::new(),
                };
                if let Some(old) = self.links.borrow_mut().insert(sid.clone(), link).and_then(|l| l.ws) {
                    let _ = old.close(Some(1000), Some("replaced"));
                }
                if let Some(me) = host.me() {
                    worker::wasm_bindgen_futures::spawn_local(run(me, sid, session_id, identity, generation));
                }
            }
            RelayCommand::Send { sid, frames } => {
                let mut links = self.links.borrow_mut();
                let Some(link) = links.get_mut(&sid) else { return };
                match &link.ws {
                    Some(ws) => {
                        // A failed send surfaces as the relay's close event.
                        let _ = send_frames(ws, frames);
                    }
                    None => link.held.extend(frames),
                }
            }
            RelayCommand::Close { sid } => {
                if let Some(ws) = self.links.borrow_mut().remove(&sid).and_then(|l| l.ws) {
                    let _ = ws.close(Some(1000), Some("client gone"));
                }
            }
        }
    }

    fn current(&self, sid: &str, generation: u64) -> bool {
        self.links.borrow().get(sid).is_some_and(|l| l.generation == generation)
    }
}

/// Opens the internal WebSocket to `session_id`'s object with the verified identity.
async fn connect(env: &Env, session_id: &str, identity: &Identity) -> std::result::Result<WebSocket, Refusal> {
    let attempt = async {
        let stub = env.durable_object(BINDING)?.id_from_name(session_id)?.get_stub()?;
        let headers = Headers::new();
        headers.set("Upgrade", "websocket")?;
        headers.set(SESSION_HEADER, session_id)?;
        headers.set(TARGET_HEADER, TARGET)?;
        for (name, value) in identity.headers() {
            headers.set(name, &value)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let req = Request::new_with_init("https://session.mia/relay", &init)?;
        stub.fetch_with_request(req).await
    };
    let response = attempt.await.map_err(|_| Refusal::Failed)?;
    match response.status_code() {
        101 => response.websocket().ok_or(Refusal::Failed),
        status => Err(Refusal::from_status(status)),
    }
}

/// One relay, from opening to its end.
async fn run(inner: Rc<impl Host>, sid: String, session_id: String, identity: Identity, generation: u64) {
    let started = now_ms();
    let ws = match connect(inner.env(), &session_id, &identity).await {
        Ok(ws) if ws.accept().is_ok() => Ok(ws),
        Ok(_) => Err(Refusal::Failed),
        Err(refusal) => Err(refusal),
    };
    let relays = inner.relays();
    if !relays.current(&sid, generation) {
        // The client left (or joined again) while it opened.
        if let Ok(ws) = ws {
            let _ = ws.close(Some(1000), Some("client gone"));
        }
        return;
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(refusal) => {
            let held = relays.links.borrow_mut().remove(&sid).map(|l| l.held).unwrap_or_default();
            return inner.relay_failed(&sid, refusal, held).await;
        }
    };
    let Ok(mut events) = ws.events() else {
        let held = relays.links.borrow_mut().remove(&sid).map(|l| l.held).unwrap_or_default();
        let _ = ws.close(Some(1011), Some("relay failed"));
        return inner.relay_failed(&sid, Refusal::Failed, held).await;
    };
    {
        let mut links = relays.links.borrow_mut();
        let link = links.get_mut(&sid).expect("current");
        let frames: Vec<Frame> = link.first.drain(..).chain(link.held.drain(..)).collect();
        let _ = send_frames(&ws, frames);
        link.ws = Some(ws.clone());
    }
    inner.log(
        Record::new(Level::Debug, "relay_opened")
            .with("sid", sid.as_str())
            .with("ms", now_ms().saturating_sub(started)),
    );
    inner.relay_opened(&sid).await;
    let mut ended = Refusal::Failed;
    while let Some(event) = events.next().await {
        let frame = match event {
            Ok(WebsocketEvent::Message(m)) => match frame_of(&m) {
                Some(frame) => frame,
                None => continue,
            },
            Ok(WebsocketEvent::Close(close)) => {
                ended = Refusal::Closed(close.code());
                break;
            }
            Err(_) => break,
        };
        inner.relayed(&sid, frame).await;
    }
    drop(events);
    // Ended by the target or the network (a close this side asked for removed the link).
    if relays.current(&sid, generation) {
        relays.links.borrow_mut().remove(&sid);
        let _ = ws.close(Some(1000), Some("relay ended"));
        inner.relay_failed(&sid, ended, Vec::new()).await;
    }
}
