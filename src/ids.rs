//! Random identifiers: session ids, socket ids, message ids, anonymous users.

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).expect("the platform provides randomness");
    buf
}

/// URL-safe base64 without padding.
pub fn base64url(bytes: &[u8]) -> String {
    crate::protocol::base64::encode(bytes, crate::protocol::base64::URL_SAFE, false)
}

/// 128 random bits, URL-safe (22 characters).
pub fn session_id() -> String {
    base64url(&random_bytes::<16>())
}

/// An Engine.IO or Socket.IO socket id.
pub fn socket_id() -> String {
    base64url(&random_bytes::<15>())
}

/// A message id, unique within and across sessions.
pub fn message_id() -> String {
    format!("msg_{}", base64url(&random_bytes::<12>()))
}

/// An anonymous user: `anon_` + 128 random bits in hex.
pub fn anonymous_user() -> String {
    let bytes = random_bytes::<16>();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("anon_{hex}")
}

/// Whether a client-chosen session id is acceptable: 8–128 of `[A-Za-z0-9_-]`.
pub fn valid_session_id(id: &str) -> bool {
    (8..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_valid_and_distinct() {
        let a = session_id();
        assert_eq!(a.len(), 22);
        assert!(valid_session_id(&a));
        assert_ne!(a, session_id());
        let anon = anonymous_user();
        assert!(anon.starts_with("anon_") && anon.len() == 37);
    }

    #[test]
    fn session_id_rules() {
        assert!(valid_session_id("abcd-_12"));
        assert!(!valid_session_id("short"));
        assert!(!valid_session_id("has space here"));
        assert!(!valid_session_id("../../etc/passwd"));
        assert!(!valid_session_id(&"a".repeat(129)));
    }
}
