//! The Worker's HTTP decisions (CONTRACT §1), as pure functions: routing, `/health`,
//! token minting, CORS, and the `/socket.io/` query checks.

use serde_json::{json, Value};

use crate::auth;
use crate::config::Config;
use crate::ids;

/// A response the shell sends as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    fn new(status: u16, body: Value) -> Self {
        Reply { status, body }
    }
}

/// `{"error":{"code","message"}}`.
pub fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::new(status, json!({ "error": { "code": code, "message": message } }))
}

/// What a `/socket.io/` request asks of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineTarget {
    /// A new WebSocket connection.
    WebSocket,
    /// The WebSocket that upgrades this long-polling connection.
    Upgrade { sid: String },
    /// The long-polling handshake.
    PollOpen,
    /// A long-poll `GET` or a `POST` of packets.
    Poll { sid: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Token,
    /// A `/socket.io/` request for this session.
    SocketIo {
        session_id: String,
        target: EngineTarget,
    },
    /// CORS preflight for an API route.
    Preflight,
    /// Anything `GET` that static assets may serve (the demo page).
    Asset,
}

/// Decides what a request is; `Err` is the answer to send straight away.
pub fn route(method: &str, path: &str, query: &str) -> Result<Route, Reply> {
    let api = matches!(path, "/health" | "/api/auth/token");
    if method == "OPTIONS" && api {
        return Ok(Route::Preflight);
    }
    match (method, path) {
        ("GET" | "HEAD", "/health") => Ok(Route::Health),
        ("POST", "/api/auth/token") => Ok(Route::Token),
        (_, "/health" | "/api/auth/token") => Err(error(405, "METHOD_NOT_ALLOWED", "This route does not accept that method")),
        (_, "/socket.io" | "/socket.io/") => {
            socketio_target(method, query).map(|(session_id, target)| Route::SocketIo { session_id, target })
        }
        ("GET" | "HEAD", _) => Ok(Route::Asset),
        _ => Err(not_found()),
    }
}

pub fn not_found() -> Reply {
    error(404, "NOT_FOUND", "There is nothing at this address")
}

/// Percent-decoded `key=value` pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Engine.IO's own error body, which socket.io-client understands.
pub fn engineio_bad_request() -> Reply {
    Reply::new(400, json!({ "code": 3, "message": "Bad request" }))
}

/// Engine.IO's answer for a sid it does not know.
pub fn engineio_unknown_sid() -> Reply {
    Reply::new(400, json!({ "code": 1, "message": "Session ID unknown" }))
}

/// The session a connection's sid belongs to (sids are `<sessionId>.<random>`).
pub fn session_of_sid(sid: &str) -> Option<&str> {
    let (session, rest) = sid.split_once('.')?;
    let valid =
        ids::valid_session_id(session) && !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(session)
}

/// Checks a `/socket.io/` request and picks (or mints) the session id.
pub fn socketio_target(method: &str, query: &str) -> Result<(String, EngineTarget), Reply> {
    let q = parse_query(query);
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    if get("EIO") != Some("4") {
        return Err(Reply::new(400, json!({ "code": 5, "message": "Unsupported protocol version" })));
    }
    let polling = match get("transport") {
        Some("websocket") => false,
        Some("polling") => true,
        _ => return Err(Reply::new(400, json!({ "code": 0, "message": "Transport unknown" }))),
    };
    if let Some(sid) = get("sid") {
        let session = session_of_sid(sid).ok_or_else(engineio_unknown_sid)?.to_string();
        let sid = sid.to_string();
        return match (polling, method) {
            (false, "GET") => Ok((session, EngineTarget::Upgrade { sid })),
            (true, "GET" | "POST") => Ok((session, EngineTarget::Poll { sid })),
            _ => Err(engineio_bad_request()),
        };
    }
    // Only GET opens a connection, on either transport (Engine.IO's own rule). The method is
    // the request's raw one, so PROPFIND, PUT, HEAD… never reach a session.
    if method != "GET" {
        return Err(Reply::new(400, json!({ "code": 2, "message": "Bad handshake method" })));
    }
    let session = match get("sessionId") {
        None | Some("") => ids::session_id(),
        Some(id) if ids::valid_session_id(id) => id.to_string(),
        Some(_) => {
            return Err(error(
                400,
                "INVALID_SESSION_ID",
                "sessionId must be 8 to 128 characters of letters, digits, '-' or '_'",
            ))
        }
    };
    Ok((session, if polling { EngineTarget::PollOpen } else { EngineTarget::WebSocket }))
}

/// Whether a `/socket.io/` request names no session, so the Worker mints one: such a
/// connection may join a stored session with `join_session` (CONTRACT §2).
pub fn session_minted(query: &str) -> bool {
    !parse_query(query).iter().any(|(k, v)| k == "sessionId" && !v.is_empty())
}

/// Refuses an outside request that carries a header only this server's own objects set
/// (a relay's verified identity, `X-Mia-*`): nothing outside may pose as a relay.
pub fn check_internal_headers<'a>(mut names: impl Iterator<Item = &'a str>) -> Result<(), Reply> {
    if names.any(|n| n.to_ascii_lowercase().starts_with(crate::session::relay::INTERNAL_HEADER_PREFIX)) {
        return Err(error(400, "INTERNAL_HEADER", "X-Mia-* headers are reserved for the server itself"));
    }
    Ok(())
}

/// The 429 for a client address that opens connections faster than
/// `CLIENT_SESSIONS_PER_MINUTE`.
pub fn client_rate_limited(retry_after_ms: u64) -> Reply {
    let mut r = error(
        429,
        "RATE_LIMITED",
        "Too many new connections from your network; please wait a moment",
    );
    r.body["error"]["retryAfterMs"] = json!(retry_after_ms);
    r
}

/// Engine.IO's answer for a request naming a sid that is not its own.
pub fn engineio_forbidden() -> Reply {
    Reply::new(403, json!({ "code": 4, "message": "Forbidden" }))
}

/// The largest `Authorization` header a `/socket.io/` request may carry. Its bearer token
/// travels with the connection (into the WebSocket's attachment, at most 16 KiB on Workers),
/// and no token this server verifies is anywhere near this long.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Refuses a `/socket.io/` request whose `Authorization` header is over the limit, before
/// it reaches a session: nothing is opened or stored for it.
pub fn check_authorization(authorization: Option<&str>) -> Result<(), Reply> {
    match authorization {
        Some(value) if value.len() > MAX_AUTHORIZATION_BYTES => {
            Err(error(431, "HEADER_TOO_LARGE", "The Authorization header is longer than 8192 bytes"))
        }
        _ => Ok(()),
    }
}

/// `GET /health`.
pub fn health(cfg: &Config, now_ms: u64, started_ms: u64) -> Reply {
    let (degraded, checks) = cfg.health_checks();
    Reply::new(
        200,
        json!({
            "status": if degraded { "degraded" } else { "healthy" },
            "timestamp": crate::time::iso8601(now_ms),
            "uptime": now_ms.saturating_sub(started_ms) as f64 / 1000.0,
            "version": crate::VERSION,
            "checks": checks,
        }),
    )
}

/// Token requests are tiny; anything larger is refused unread.
pub const MAX_TOKEN_BODY: usize = 16 * 1024;

/// `POST /api/auth/token`.
pub fn token(cfg: &Config, now_ms: u64, body: &[u8], authorization: Option<&str>) -> Reply {
    if body.len() > MAX_TOKEN_BODY {
        return error(413, "PAYLOAD_TOO_LARGE", "The request body is too large");
    }
    let Some(secret) = &cfg.jwt_secret else {
        return error(503, "AUTH_UNAVAILABLE", "Token minting is off: the server has no valid JWT_SECRET");
    };
    let parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return error(400, "INVALID_JSON", "The request body is not valid JSON"),
        }
    };
    let Value::Object(fields) = parsed else {
        return error(400, "INVALID_REQUEST", "The request body must be a JSON object");
    };
    let user = match fields.get("userId") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if !u.is_empty() && u.len() <= 128 && !u.chars().any(char::is_control) => Some(u.clone()),
        Some(_) => return error(400, "INVALID_REQUEST", "userId must be a string of 1 to 128 characters"),
    };
    let (user_id, anonymous) = match user {
        None => (ids::anonymous_user(), true),
        Some(u) => {
            let presented = authorization.and_then(auth::bearer);
            let allowed = match (&cfg.auth_api_key, presented) {
                (Some(key), Some(given)) => auth::constant_time_eq(key.as_bytes(), given.as_bytes()),
                _ => false,
            };
            if !allowed {
                return error(401, "UNAUTHORIZED", "Minting a token for a named user needs the server's API key");
            }
            (u, false)
        }
    };
    let token = auth::mint(secret, &user_id, now_ms, cfg.token_ttl_secs);
    Reply::new(
        200,
        json!({ "token": token, "userId": user_id, "expiresIn": cfg.token_ttl_secs, "anonymous": anonymous }),
    )
}

/// CORS response headers for an allowed browser origin.
pub fn cors_headers(cfg: &Config, origin: Option<&str>) -> Vec<(&'static str, String)> {
    match origin {
        Some(o) if cfg.origin_allowed(Some(o)) => vec![
            ("Access-Control-Allow-Origin", o.to_string()),
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS".into()),
            ("Access-Control-Allow-Headers", "Content-Type, Authorization".into()),
            ("Access-Control-Max-Age", "600".into()),
            ("Vary", "Origin".into()),
        ],
        _ => Vec::new(),
    }
}

/// The 403 for a browser origin that is not allowed.
pub fn forbidden_origin() -> Reply {
    error(403, "ORIGIN_NOT_ALLOWED", "This origin may not use the server")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config as cfg;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn oversize_authorization_headers_are_refused() {
        assert_eq!(check_authorization(None), Ok(()));
        assert_eq!(check_authorization(Some(&"a".repeat(MAX_AUTHORIZATION_BYTES))), Ok(()));
        let r = check_authorization(Some(&format!("Bearer {}", "a".repeat(17_000)))).unwrap_err();
        assert_eq!(r.status, 431);
        assert_eq!(r.body["error"]["code"], "HEADER_TOO_LARGE");
    }

    #[test]
    fn refusals_use_the_wire_forms_clients_read() {
        assert_eq!(engineio_forbidden(), Reply::new(403, json!({"code": 4, "message": "Forbidden"})));
        let r = client_rate_limited(1500);
        assert_eq!(
            (r.status, &r.body["error"]["code"], &r.body["error"]["retryAfterMs"]),
            (429, &json!("RATE_LIMITED"), &json!(1500))
        );
    }

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/health", ""), Ok(Route::Health));
        assert_eq!(route("POST", "/api/auth/token", ""), Ok(Route::Token));
        assert_eq!(route("OPTIONS", "/api/auth/token", ""), Ok(Route::Preflight));
        assert_eq!(route("GET", "/", ""), Ok(Route::Asset));
        assert_eq!(route("DELETE", "/x", "").unwrap_err().status, 404);
        assert_eq!(route("GET", "/api/auth/token", "").unwrap_err().status, 405);
        assert_eq!(
            route("GET", "/socket.io/", "EIO=4&transport=polling&t=x&sessionId=abcdefgh"),
            Ok(Route::SocketIo {
                session_id: "abcdefgh".into(),
                target: EngineTarget::PollOpen
            })
        );
        assert_eq!(route("POST", "/socket.io/", "EIO=4&transport=polling").unwrap_err().body["code"], 2);
        // Only GET and POST are Engine.IO's; any other method is refused, never a handshake.
        for method in ["PROPFIND", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get"] {
            for transport in ["polling", "websocket"] {
                let r = route(method, "/socket.io/", &format!("EIO=4&transport={transport}")).unwrap_err();
                assert_eq!(
                    r,
                    Reply::new(400, json!({"code": 2, "message": "Bad handshake method"})),
                    "{method} {transport}"
                );
                let r = route(method, "/socket.io/", &format!("EIO=4&transport={transport}&sessionId=bad/id")).unwrap_err();
                assert_eq!(r.body["code"], 2, "{method} {transport}");
            }
            let r = route(method, "/socket.io/", "EIO=4&transport=polling&sid=abcdefgh.xyz").unwrap_err();
            assert_eq!(r, engineio_bad_request(), "{method}");
            let r = route(method, "/socket.io/", "EIO=4&transport=websocket&sid=abcdefgh.xyz").unwrap_err();
            assert_eq!(r, engineio_bad_request(), "{method}");
        }
        assert_eq!(
            route("POST", "/socket.io/", "EIO=4&transport=polling&sid=abcdefgh.xyz"),
            Ok(Route::SocketIo {
                session_id: "abcdefgh".into(),
                target: EngineTarget::Poll {
                    sid: "abcdefgh.xyz".into()
                }
            })
        );
        assert_eq!(
            route(
                "GET",
                "/socket.io/",
                "EIO=4&transport=websocket&sid=abcdefgh.xyz&sessionId=other123"
            ),
            Ok(Route::SocketIo {
                session_id: "abcdefgh".into(),
                target: EngineTarget::Upgrade {
                    sid: "abcdefgh.xyz".into()
                }
            })
        );
        for bad in ["nodot", "short.x", "abcdefgh.", "abcdefgh.x/y"] {
            let r = route("GET", "/socket.io/", &format!("EIO=4&transport=polling&sid={bad}")).unwrap_err();
            assert_eq!((r.status, r.body["code"].clone()), (400, json!(1)), "{bad}");
        }
        assert_eq!(
            route("GET", "/socket.io/", "EIO=4&transport=websocket&sessionId=abcdefgh"),
            Ok(Route::SocketIo {
                session_id: "abcdefgh".into(),
                target: EngineTarget::WebSocket
            })
        );
        assert_eq!(
            route("GET", "/socket.io/", "EIO=4&transport=websocket&sessionId=a%2Fb")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(route("GET", "/socket.io/", "EIO=3&transport=websocket").unwrap_err().status, 400);
        match route("GET", "/socket.io/", "EIO=4&transport=websocket") {
            Ok(Route::SocketIo { session_id, .. }) => assert!(ids::valid_session_id(&session_id)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("a=1&b=x%20y+z&c"),
            vec![("a".into(), "1".into()), ("b".into(), "x y z".into()), ("c".into(), "".into())]
        );
        assert_eq!(parse_query("bad=%zz%"), vec![("bad".into(), "%zz%".into())]);
    }

    #[test]
    fn health_reports_without_secrets() {
        let h = health(&cfg(&[("JWT_SECRET", SECRET)]), 5_000, 1_000);
        assert_eq!(h.body["status"], "healthy");
        assert_eq!(h.body["uptime"], 4.0);
        assert!(!h.body.to_string().contains(SECRET));
        assert_eq!(health(&cfg(&[]), 0, 0).body["status"], "degraded");
    }

    #[test]
    fn token_minting_rules() {
        let c = cfg(&[("JWT_SECRET", SECRET), ("AUTH_API_KEY", "server-key")]);
        let anon = token(&c, 0, b"{}", None);
        assert_eq!(anon.status, 200);
        assert_eq!(anon.body["anonymous"], true);
        let uid = anon.body["userId"].as_str().unwrap();
        assert!(uid.starts_with("anon_"));
        assert_eq!(
            auth::verify(SECRET, anon.body["token"].as_str().unwrap(), 0, c.max_token_lifetime_secs)
                .unwrap()
                .user_id,
            uid
        );
        assert_eq!(token(&c, 0, b"", None).status, 200);
        assert_eq!(token(&c, 0, br#"{"userId":"u1"}"#, None).status, 401);
        assert_eq!(token(&c, 0, br#"{"userId":"u1"}"#, Some("Bearer wrong")).status, 401);
        let named = token(&c, 0, br#"{"userId":"u1"}"#, Some("Bearer server-key"));
        assert_eq!(
            (named.status, named.body["userId"].clone(), named.body["anonymous"].clone()),
            (200, json!("u1"), json!(false))
        );
        assert_eq!(token(&c, 0, b"{nope", None).body["error"]["code"], "INVALID_JSON");
        assert_eq!(token(&c, 0, br#"{"userId":5}"#, None).body["error"]["code"], "INVALID_REQUEST");
        assert_eq!(token(&c, 0, b"[]", None).status, 400);
        assert_eq!(token(&c, 0, &vec![b' '; MAX_TOKEN_BODY + 1], None).status, 413);
        assert_eq!(token(&cfg(&[]), 0, b"{}", None).status, 503);
        let no_key = cfg(&[("JWT_SECRET", SECRET)]);
        assert_eq!(token(&no_key, 0, br#"{"userId":"u1"}"#, Some("Bearer ")).status, 401);
    }

    #[test]
    fn cors() {
        let c = cfg(&[("ALLOWED_ORIGINS", "https://app.example")]);
        assert!(cors_headers(&c, Some("https://evil.example")).is_empty());
        assert_eq!(cors_headers(&c, Some("https://app.example"))[0].1, "https://app.example");
    }

    #[test]
    fn internal_headers_are_refused_and_minting_is_seen() {
        assert!(check_internal_headers(["origin", "authorization"].into_iter()).is_ok());
        for forged in ["X-Mia-User-Id", "x-mia-target", "X-MIA-Authenticated", "x-mia-session-id"] {
            let refused = check_internal_headers(["origin", forged].into_iter()).unwrap_err();
            assert_eq!(
                (refused.status, refused.body["error"]["code"].clone()),
                (400, json!("INTERNAL_HEADER"))
            );
        }
        assert!(session_minted("EIO=4&transport=websocket"));
        assert!(session_minted("EIO=4&transport=polling&sessionId="));
        assert!(!session_minted("EIO=4&transport=websocket&sessionId=abcdefgh"));
    }
}
