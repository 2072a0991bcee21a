//! JWT claims: minting and verifying HS256 tokens with `jwt-compact`.
//!
//! Claims are `{userId, iat, exp}`, the shape the original Node server minted with
//! `jsonwebtoken`, so its tokens keep working. The clock is passed in.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken, ValidationError};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 30;
/// Tokens longer than this are not parsed.
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserClaims {
    #[serde(rename = "userId")]
    pub user_id: String,
}

/// Why a token was refused; maps to the `AUTH_*` codes of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Invalid(&'static str),
    Expired,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Invalid(_) => "AUTH_INVALID",
            TokenError::Expired => "AUTH_EXPIRED",
        }
    }

    pub fn message(&self) -> String {
        match self {
            TokenError::Invalid(why) => format!("Authentication failed: {why}"),
            TokenError::Expired => "Authentication failed: the token has expired".into(),
        }
    }
}

fn at(now_ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(now_ms as i64)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Mints a token for `user_id` valid for `ttl_secs`.
pub fn mint(secret: &str, user_id: &str, now_ms: u64, ttl_secs: u64) -> String {
    let now = at(now_ms);
    let options = TimeOptions::new(Duration::seconds(LEEWAY_SECS), move || now);
    let claims = Claims::new(UserClaims {
        user_id: user_id.to_string(),
    })
    .set_duration_and_issuance(&options, Duration::seconds(ttl_secs as i64));
    Hs256
        .token(&Header::empty().with_token_type("JWT"), &claims, &Hs256Key::new(secret.as_bytes()))
        .expect("HS256 signing cannot fail")
}

/// A verified token: whose it is and until when (ms) it may be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: String,
    /// `exp` plus the leeway: past this, a socket authenticated by the token is disconnected.
    pub expires_at_ms: u64,
}

/// Verifies signature, algorithm, `exp` (required), `nbf` and the lifetime cap; returns the
/// user id. A token may live at most `max_lifetime_secs`: `exp - iat` over it, or `exp` further
/// than that from now, is `AUTH_INVALID` (a token valid for centuries is a leak waiting).
pub fn verify(secret: &str, token: &str, now_ms: u64, max_lifetime_secs: u64) -> Result<Verified, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Invalid("token too long"));
    }
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Invalid("malformed token"))?;
    let checked = Hs256
        .validator::<UserClaims>(&Hs256Key::new(secret.as_bytes()))
        .validate(&untrusted)
        .map_err(|e| match e {
            ValidationError::AlgorithmMismatch { .. } => TokenError::Invalid("unexpected algorithm"),
            ValidationError::InvalidSignature => TokenError::Invalid("bad signature"),
            _ => TokenError::Invalid("malformed claims"),
        })?;
    let now = at(now_ms);
    let options = TimeOptions::new(Duration::seconds(LEEWAY_SECS), move || now);
    let claims = checked.claims();
    claims.validate_expiration(&options).map_err(|e| match e {
        ValidationError::Expired => TokenError::Expired,
        _ => TokenError::Invalid("the token has no expiry"),
    })?;
    if claims.not_before.is_some() {
        claims
            .validate_maturity(&options)
            .map_err(|_| TokenError::Invalid("the token is not valid yet"))?;
    }
    let exp = claims.expiration.map(|e| e.timestamp()).unwrap_or(0);
    let cap = i64::try_from(max_lifetime_secs).unwrap_or(i64::MAX);
    let lifetime_from_iat = claims.issued_at.map(|iat| exp.saturating_sub(iat.timestamp()));
    let from_now = exp.saturating_sub(now.timestamp());
    if lifetime_from_iat.is_some_and(|l| l > cap) || from_now > cap.saturating_add(LEEWAY_SECS) {
        return Err(TokenError::Invalid("the token lives longer than this server allows"));
    }
    let user = &claims.custom.user_id;
    if user.is_empty() || user.len() > 256 {
        return Err(TokenError::Invalid("bad userId"));
    }
    Ok(Verified {
        user_id: user.clone(),
        expires_at_ms: (exp.saturating_add(LEEWAY_SECS).max(0) as u64).saturating_mul(1000),
    })
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

/// The token a Socket.IO CONNECT payload carries: `token`, else `auth.token`.
///
/// Absent, `null` or `""` means no token (anonymous). Any other non-string (a number, an
/// object, a boolean) is a broken client or a probe, refused like an invalid token rather
/// than silently treated as anonymous.
pub fn connect_token(payload: &serde_json::Value) -> Result<Option<&str>, TokenError> {
    use serde_json::Value;
    fn field(v: Option<&Value>) -> Result<Option<&str>, TokenError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(TokenError::Invalid("the token must be a string")),
        }
    }
    match field(payload.get("token"))? {
        Some(token) => Ok(Some(token)),
        None => field(payload.pointer("/auth/token")),
    }
}

/// The token from an `Authorization: Bearer …` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";
    const NOW: u64 = 1_800_000_000_000;
    const CAP: u64 = 30 * 24 * 3600;

    fn verify(secret: &str, token: &str, now_ms: u64) -> Result<String, TokenError> {
        super::verify(secret, token, now_ms, CAP).map(|v| v.user_id)
    }

    fn signed(iat: Option<i64>, exp: i64) -> String {
        let mut claims = Claims::new(UserClaims { user_id: "u1".into() });
        claims.issued_at = iat.map(|t| Utc.timestamp_opt(t, 0).unwrap());
        claims.expiration = Some(Utc.timestamp_opt(exp, 0).unwrap());
        Hs256.token(&Header::empty(), &claims, &Hs256Key::new(SECRET.as_bytes())).unwrap()
    }

    #[test]
    fn lifetimes_over_the_cap_are_invalid() {
        let (now, cap) = ((NOW / 1000) as i64, CAP as i64);
        // The attack pass's token: valid for 250,000 years.
        let forever = signed(Some(now), now + 250_000 * 365 * 86_400);
        let too_long = signed(Some(now), now + cap + 1);
        let no_iat = signed(None, now + cap + 3600);
        let future_iat = signed(Some(now + cap), now + cap + 60);
        for t in [&forever, &too_long, &no_iat, &future_iat] {
            assert_eq!(
                verify(SECRET, t, NOW),
                Err(TokenError::Invalid("the token lives longer than this server allows"))
            );
        }
        let at_cap = signed(Some(now), now + cap);
        assert_eq!(verify(SECRET, &at_cap, NOW), Ok("u1".into()));
        let v = super::verify(SECRET, &mint(SECRET, "u1", NOW, 3600), NOW, CAP).unwrap();
        assert_eq!(v.expires_at_ms, NOW + 3_600_000 + LEEWAY_SECS as u64 * 1000);
    }

    fn b64(bytes: &[u8]) -> String {
        crate::ids::base64url(bytes)
    }

    #[test]
    fn minted_tokens_verify_until_they_expire() {
        let t = mint(SECRET, "u1", NOW, 3600);
        assert_eq!(verify(SECRET, &t, NOW), Ok("u1".into()));
        assert_eq!(
            verify(SECRET, &t, NOW + 3_600_000 + (LEEWAY_SECS as u64 - 1) * 1000),
            Ok("u1".into())
        );
        assert_eq!(
            verify(SECRET, &t, NOW + 3_600_000 + (LEEWAY_SECS as u64 + 1) * 1000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn wrong_secret_and_tampering_are_invalid() {
        let t = mint(SECRET, "u1", NOW, 3600);
        assert_eq!(verify("another-secret", &t, NOW).unwrap_err().code(), "AUTH_INVALID");
        let parts: Vec<&str> = t.split('.').collect();
        let forged_payload = b64(br#"{"userId":"admin","iat":1800000000,"exp":1900000000}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(verify(SECRET, &forged, NOW).unwrap_err().code(), "AUTH_INVALID");
        let mut sig = parts[2].to_string();
        sig.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            verify(SECRET, &format!("{}.{}.{}", parts[0], parts[1], sig), NOW)
                .unwrap_err()
                .code(),
            "AUTH_INVALID"
        );
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let payload = b64(br#"{"userId":"u1","iat":1800000000,"exp":1900000000}"#);
        let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), payload);
        assert_eq!(verify(SECRET, &none, NOW).unwrap_err().code(), "AUTH_INVALID");
        let t = mint(SECRET, "u1", NOW, 3600);
        let sig = t.rsplit('.').next().unwrap();
        let hs512 = format!("{}.{}.{}", b64(br#"{"alg":"HS512","typ":"JWT"}"#), payload, sig);
        assert_eq!(verify(SECRET, &hs512, NOW), Err(TokenError::Invalid("unexpected algorithm")));
    }

    #[test]
    fn garbage_and_missing_expiry_are_invalid() {
        for junk in ["", "abc", "a.b.c", "....", "Bearer x", &"x".repeat(5000)] {
            assert_eq!(verify(SECRET, junk, NOW).unwrap_err().code(), "AUTH_INVALID", "{junk:?}");
        }
        // A correctly signed token without `exp` is refused.
        let key = Hs256Key::new(SECRET.as_bytes());
        let claims = Claims::new(UserClaims { user_id: "u1".into() });
        let t = Hs256.token(&Header::empty(), &claims, &key).unwrap();
        assert_eq!(verify(SECRET, &t, NOW), Err(TokenError::Invalid("the token has no expiry")));
    }

    #[test]
    fn not_yet_valid_tokens_are_refused() {
        let key = Hs256Key::new(SECRET.as_bytes());
        let claims = Claims::new(UserClaims { user_id: "u1".into() }).set_not_before(at(NOW + 3_600_000));
        let mut claims = claims;
        claims.expiration = Some(at(NOW + 7_200_000));
        let t = Hs256.token(&Header::empty(), &claims, &key).unwrap();
        assert_eq!(verify(SECRET, &t, NOW), Err(TokenError::Invalid("the token is not valid yet")));
    }

    #[test]
    fn tokens_from_the_original_node_server_verify() {
        // jwt.sign({userId, iat}, secret, {expiresIn: "24h"}) from the npm `jsonwebtoken`
        // package, as the original server minted them.
        let legacy = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOiJsZWdhY3ktdXNlciIsImlhdCI6MTgwMDAwMDAwMCwiZXhwIjoxODAwMDg2NDAwfQ.ECeqAEf3eGOBFz3UKZHI0B827mLD62nnGQmu0zVYfbs";
        assert_eq!(verify("original-node-server-secret", legacy, NOW), Ok("legacy-user".into()));
        assert_eq!(verify(SECRET, legacy, NOW).unwrap_err().code(), "AUTH_INVALID");
        assert_eq!(
            verify("original-node-server-secret", legacy, NOW + 86_400_000 + 60_000),
            Err(TokenError::Expired)
        );
        // Its 24 hours fit under a 1-day cap, the shortest a deployment would set.
        assert!(super::verify("original-node-server-secret", legacy, NOW, 86_400).is_ok());
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"key", b"key"));
        assert!(!constant_time_eq(b"key", b"kez"));
        assert!(!constant_time_eq(b"key", b"key2"));
        assert!(!constant_time_eq(b"", b"k"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn connect_tokens_must_be_strings() {
        use serde_json::json;
        assert_eq!(connect_token(&json!({})), Ok(None));
        assert_eq!(connect_token(&json!({"token": null})), Ok(None));
        assert_eq!(connect_token(&json!({"token": ""})), Ok(None));
        assert_eq!(connect_token(&json!({"token": "t"})), Ok(Some("t")));
        assert_eq!(connect_token(&json!({"auth": {"token": "t"}})), Ok(Some("t")));
        assert_eq!(connect_token(&json!({"token": null, "auth": {"token": "t"}})), Ok(Some("t")));
        assert_eq!(connect_token(&json!("not an object")), Ok(None));
        for bad in [
            json!({"token": 123}),
            json!({"token": {"a": 1}}),
            json!({"token": true}),
            json!({"token": ["t"]}),
            json!({"auth": {"token": 123}}),
            json!({"token": null, "auth": {"token": false}}),
        ] {
            assert_eq!(connect_token(&bad).unwrap_err().code(), "AUTH_INVALID", "{bad}");
        }
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
