//! Who may use a session and a connection (CONTRACT §2, privacy), as pure decisions:
//! the ownership check every Socket.IO CONNECT to a session goes through, and the key
//! that binds an Engine.IO sid to the client that opened it.

use sha2::{Digest, Sha256};

use crate::conversation::store::Owner;

/// Who is connecting: the user id and whether it comes from a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visitor<'a> {
    pub user_id: &'a str,
    pub authenticated: bool,
}

/// What a CONNECT to a session may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Join; the session's owner does not change.
    Join,
    /// Join and make this the session's owner. Sockets already joined that are not the new
    /// owner's are put out (a token holder takes over an ownerless session with no history:
    /// whoever opened it first must not read what she writes).
    Claim(Owner),
    /// `FORBIDDEN`.
    Refuse,
}

/// The one ownership rule for every way into a session (a query `sessionId`, a
/// `join_session` relayed from another session):
/// - nobody has joined yet: the first visitor's token user owns it, or nobody without a token;
/// - owned by a user: only that user's verified token joins;
/// - ownerless (started without a token): whoever holds the id joins without a token; a token
///   holder never joins one that already has history (fixation), and claims an empty one.
pub fn admit(owner: &Owner, has_history: bool, visitor: Visitor<'_>) -> Admission {
    match owner {
        Owner::Unclaimed => Admission::Claim(first_owner(visitor)),
        Owner::Nobody if !visitor.authenticated => Admission::Join,
        Owner::Nobody if has_history => Admission::Refuse,
        Owner::Nobody => Admission::Claim(Owner::User(visitor.user_id.to_string())),
        Owner::User(user) if visitor.authenticated && user == visitor.user_id => Admission::Join,
        Owner::User(_) => Admission::Refuse,
    }
}

/// Whom a session belongs to when `visitor` claims it first: her token's user, or nobody.
pub fn first_owner(visitor: Visitor<'_>) -> Owner {
    if visitor.authenticated {
        Owner::User(visitor.user_id.to_string())
    } else {
        Owner::Nobody
    }
}

/// The key binding an Engine.IO sid to what opened it: the client's address (the Worker's
/// `CF-Connecting-IP`) and the bearer token of its `Authorization` header, both of which a
/// stock socket.io-client repeats on every polling request and on the WebSocket upgrade. A
/// request naming the sid without the same key is refused.
pub fn connection_key(address: Option<&str>, authorization: Option<&str>) -> String {
    key("mia-sid-binding", &[address.unwrap_or(""), authorization.unwrap_or("").trim()])
}

/// The key a client address is counted under by the per-client limits (hashed: the limiter
/// and connection state never hold the address itself).
pub fn client_key(address: Option<&str>) -> String {
    key("mia-client", &[address.unwrap_or("")])
}

/// SHA-256 of `tag` and each part, each after a NUL; its first 16 bytes in hex.
fn key(tag: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    for part in parts {
        h.update(b"\0");
        h.update(part.as_bytes());
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(user: &str) -> Visitor<'_> {
        Visitor {
            user_id: user,
            authenticated: true,
        }
    }

    fn anonymous() -> Visitor<'static> {
        Visitor {
            user_id: "anon_x",
            authenticated: false,
        }
    }

    #[test]
    fn first_visitor_decides_the_owner() {
        assert_eq!(
            admit(&Owner::Unclaimed, false, token("u1")),
            Admission::Claim(Owner::User("u1".into()))
        );
        assert_eq!(admit(&Owner::Unclaimed, false, anonymous()), Admission::Claim(Owner::Nobody));
    }

    #[test]
    fn owned_sessions_admit_only_their_user() {
        let owner = Owner::User("u1".into());
        assert_eq!(admit(&owner, true, token("u1")), Admission::Join);
        assert_eq!(admit(&owner, true, token("u2")), Admission::Refuse);
        assert_eq!(admit(&owner, false, anonymous()), Admission::Refuse);
        // An anonymous visitor whose generated id happens to equal the owner's is still refused.
        let same_id = Visitor {
            user_id: "u1",
            authenticated: false,
        };
        assert_eq!(admit(&owner, true, same_id), Admission::Refuse);
    }

    #[test]
    fn ownerless_sessions_stay_open_to_id_holders_but_never_fix_a_token_holder() {
        assert_eq!(admit(&Owner::Nobody, true, anonymous()), Admission::Join);
        assert_eq!(admit(&Owner::Nobody, false, anonymous()), Admission::Join);
        // Fixation: an attacker opened the id; the victim, with a token, must not join its history…
        assert_eq!(admit(&Owner::Nobody, true, token("victim")), Admission::Refuse);
        // …and on an empty one she becomes its owner (the attacker's sockets are put out).
        assert_eq!(
            admit(&Owner::Nobody, false, token("victim")),
            Admission::Claim(Owner::User("victim".into()))
        );
    }

    #[test]
    fn keys_differ_by_address_and_header() {
        let k = connection_key(Some("203.0.113.7"), Some("Bearer a"));
        assert_eq!(k.len(), 32);
        assert_eq!(k, connection_key(Some("203.0.113.7"), Some(" Bearer a ")));
        assert_ne!(k, connection_key(Some("203.0.113.8"), Some("Bearer a")));
        assert_ne!(k, connection_key(Some("203.0.113.7"), None));
        assert_ne!(connection_key(Some("a"), Some("b")), connection_key(Some("ab"), None));
        assert_ne!(client_key(Some("203.0.113.7")), client_key(Some("203.0.113.8")));
        assert!(!client_key(Some("203.0.113.7")).contains("203"));
    }
}
