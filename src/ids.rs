//! Random identifiers: session ids, socket ids, message ids, anonymous users.

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).expect("the platform provides randomness");
    buf
}

/// URL-safe base64 without padding.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(URL_SAFE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
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
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

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
