//! What a session stores in its Durable Object's SQLite: the schema, the rows, and
//! every write as plain SQL with bound values. The shell only executes them.

use serde::{Deserialize, Serialize};

use crate::conversation::mode::Mode;
use crate::safety::Tier;

pub const SCHEMA_VERSION: i64 = 2;

/// Idempotent schema of version 1; run in order on every start, then [`MIGRATIONS`].
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        session_id TEXT NOT NULL,
        owner_kind TEXT NOT NULL,
        owner TEXT,
        age INTEGER,
        mode TEXT NOT NULL,
        tier INTEGER NOT NULL,
        fundraising_left INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        ts INTEGER NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS safety_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        tier INTEGER NOT NULL,
        categories TEXT NOT NULL,
        rules TEXT NOT NULL,
        source TEXT NOT NULL,
        ts INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
];

/// Each version after 1 and the statements that bring a database to it (the last one
/// records the version), run in one transaction.
pub const MIGRATIONS: &[(i64, &[&str])] = &[(
    2,
    &[
        // A user message names the reply it is owed; a reply row is `streaming` while it
        // holds the text saved so far. A message is owed while its reply is missing or streaming.
        "ALTER TABLE messages ADD COLUMN reply_id TEXT",
        "ALTER TABLE messages ADD COLUMN streaming INTEGER NOT NULL DEFAULT 0",
        "UPDATE schema_version SET version = 2",
    ],
)];

/// The migrations a database at `version` still needs, in order.
pub fn migrations_after(version: i64) -> impl Iterator<Item = &'static [&'static str]> {
    MIGRATIONS
        .iter()
        .filter(move |(v, _)| *v > version)
        .map(|(_, statements)| *statements)
}

pub const LOAD_VERSION: &str = "SELECT version FROM schema_version";

/// Whether this object has stored anything yet (reading it stores nothing).
pub const HAS_TABLES: &str = "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'meta'";

pub const LOAD_META: &str =
    "SELECT session_id, owner_kind, owner, age, mode, tier, fundraising_left, created_at, updated_at FROM meta WHERE id = 1";
/// The newest messages, newest first (a reply counts from when it ended); bind the limit.
/// A reply still `streaming` is not history yet: [`LOAD_OWED`] finds it.
pub const LOAD_MESSAGES: &str =
    "SELECT id, role, content, ts, interrupted FROM messages WHERE streaming = 0 ORDER BY ts DESC, seq DESC LIMIT ?";

/// The replies owed, oldest first: the text saved of each, and its message's highest tier.
pub const LOAD_OWED: &str = "SELECT u.id AS user_message, u.reply_id AS reply_id, COALESCE(r.content, '') AS partial,
       COALESCE((SELECT max(e.tier) FROM safety_events e WHERE e.message_id = u.id), 1) AS tier
     FROM messages u LEFT JOIN messages r ON r.id = u.reply_id
     WHERE u.role = 'user' AND u.reply_id IS NOT NULL AND (r.id IS NULL OR r.streaming = 1)
     ORDER BY u.seq";

/// A value bound to a `?` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}

impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}

impl From<i64> for SqlValue {
    fn from(n: i64) -> Self {
        SqlValue::Int(n)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(SqlValue::Null)
    }
}

/// Who a session belongs to (CONTRACT §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Nobody has joined yet.
    Unclaimed,
    /// First joined without a token: anyone with the id may join.
    Nobody,
    User(String),
}

/// Session metadata, one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub session_id: String,
    pub owner: Owner,
    pub age: Option<u8>,
    pub mode: Mode,
    pub tier: Tier,
    pub fundraising_left: u8,
    pub created_at: u64,
    /// When owner, age, mode or tier last changed (each message row carries its own time).
    pub updated_at: u64,
}

/// The `meta` row as SQLite returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaRow {
    pub session_id: String,
    pub owner_kind: String,
    pub owner: Option<String>,
    pub age: Option<f64>,
    pub mode: String,
    pub tier: f64,
    pub fundraising_left: f64,
    pub created_at: f64,
    pub updated_at: f64,
}

impl From<MetaRow> for Meta {
    fn from(r: MetaRow) -> Meta {
        let owner = match (r.owner_kind.as_str(), r.owner) {
            ("user", Some(u)) => Owner::User(u),
            ("nobody", _) => Owner::Nobody,
            _ => Owner::Unclaimed,
        };
        Meta {
            session_id: r.session_id,
            owner,
            age: r.age.map(|a| a as u8),
            mode: Mode::parse(&r.mode).unwrap_or(Mode::Greeting),
            tier: Tier::clamped(r.tier as u8),
            fundraising_left: r.fundraising_left as u8,
            created_at: r.created_at as u64,
            updated_at: r.updated_at as u64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub role: Role,
    pub content: String,
    pub ts: u64,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    pub id: String,
    pub role: String,
    pub content: String,
    pub ts: f64,
    pub interrupted: f64,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Message {
        Message {
            id: r.id,
            role: if r.role == "assistant" { Role::Assistant } else { Role::User },
            content: r.content,
            ts: r.ts as u64,
            interrupted: r.interrupted != 0.0,
        }
    }
}

/// A stored safety event: never the text.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyEvent {
    pub message_id: String,
    pub tier: Tier,
    pub categories: Vec<String>,
    pub rules: Vec<String>,
    pub source: &'static str,
    pub ts: u64,
}

/// A reply owed to a stored user message, as a restarted session finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub reply_id: String,
    pub user_message: String,
    /// The message's highest tier (its stored safety events, second opinions included).
    pub tier: Tier,
    /// The reply's text saved so far (empty: nothing streamed yet, or not yet saved).
    pub partial: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PendingRow {
    pub user_message: String,
    pub reply_id: String,
    pub partial: String,
    pub tier: f64,
}

impl From<PendingRow> for Pending {
    fn from(r: PendingRow) -> Pending {
        Pending {
            reply_id: r.reply_id,
            user_message: r.user_message,
            tier: Tier::clamped(r.tier as u8),
            partial: r.partial,
        }
    }
}

/// One write, one statement. The writes of one step of the core go as one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Meta(Meta),
    /// A reply, whole or cut (`interrupted`); it replaces the text saved while it streamed.
    Message(Message),
    SafetyEvent(SafetyEvent),
    /// A user message and the reply it is owed until that reply is stored.
    Owed {
        message: Message,
        reply_id: String,
    },
    /// The text of a reply streamed so far.
    Partial {
        reply_id: String,
        text: String,
        ts: u64,
    },
    /// The reply was given up with nothing to store: its message is owed nothing any more.
    Unowed {
        reply_id: String,
    },
    /// Removes a reply's saved text (a reply that could not be stored).
    Forget {
        reply_id: String,
    },
}

impl Write {
    /// The statement and its bindings.
    pub fn sql(&self) -> (&'static str, Vec<SqlValue>) {
        match self {
            Write::Meta(m) => {
                let (kind, owner) = match &m.owner {
                    Owner::Unclaimed => ("unclaimed", None),
                    Owner::Nobody => ("nobody", None),
                    Owner::User(u) => ("user", Some(u.clone())),
                };
                (
                    "INSERT INTO meta (id, session_id, owner_kind, owner, age, mode, tier, fundraising_left, created_at, updated_at)
                     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT(id) DO UPDATE SET owner_kind = excluded.owner_kind, owner = excluded.owner, age = excluded.age,
                       mode = excluded.mode, tier = excluded.tier, fundraising_left = excluded.fundraising_left, updated_at = excluded.updated_at",
                    vec![
                        m.session_id.as_str().into(),
                        kind.into(),
                        owner.into(),
                        m.age.map(i64::from).into(),
                        m.mode.as_str().into(),
                        i64::from(m.tier).into(),
                        i64::from(m.fundraising_left).into(),
                        (m.created_at as i64).into(),
                        (m.updated_at as i64).into(),
                    ],
                )
            }
            Write::Message(msg) => (
                "INSERT INTO messages (id, role, content, ts, interrupted) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT(id) DO UPDATE SET content = excluded.content, interrupted = excluded.interrupted,
                   ts = excluded.ts, streaming = 0",
                vec![
                    msg.id.as_str().into(),
                    msg.role.as_str().into(),
                    msg.content.as_str().into(),
                    (msg.ts as i64).into(),
                    i64::from(msg.interrupted).into(),
                ],
            ),
            Write::SafetyEvent(e) => (
                "INSERT INTO safety_events (message_id, tier, categories, rules, source, ts) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    e.message_id.as_str().into(),
                    i64::from(e.tier).into(),
                    e.categories.join(",").into(),
                    e.rules.join(",").into(),
                    e.source.into(),
                    (e.ts as i64).into(),
                ],
            ),
            Write::Owed { message, reply_id } => (
                "INSERT INTO messages (id, role, content, ts, interrupted, reply_id) VALUES (?, ?, ?, ?, 0, ?)",
                vec![
                    message.id.as_str().into(),
                    message.role.as_str().into(),
                    message.content.as_str().into(),
                    (message.ts as i64).into(),
                    reply_id.as_str().into(),
                ],
            ),
            Write::Partial { reply_id, text, ts } => (
                "INSERT INTO messages (id, role, content, ts, interrupted, streaming) VALUES (?, 'assistant', ?, ?, 0, 1)
                 ON CONFLICT(id) DO UPDATE SET content = excluded.content, ts = excluded.ts",
                vec![reply_id.as_str().into(), text.as_str().into(), (*ts as i64).into()],
            ),
            Write::Unowed { reply_id } => (
                "UPDATE messages SET reply_id = NULL WHERE role = 'user' AND reply_id = ?",
                vec![reply_id.as_str().into()],
            ),
            Write::Forget { reply_id } => (
                "DELETE FROM messages WHERE id = ? AND streaming = 1",
                vec![reply_id.as_str().into()],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_records_its_version() {
        let insert = SCHEMA.iter().find(|s| s.starts_with("INSERT INTO schema_version")).unwrap();
        assert!(insert.contains("SELECT 1 "), "{insert}");
        // Each migration ends by recording its version; the last one is SCHEMA_VERSION.
        for (expected, (version, statements)) in (2..).zip(MIGRATIONS) {
            assert_eq!(*version, expected);
            assert_eq!(
                *statements.last().unwrap(),
                format!("UPDATE schema_version SET version = {version}")
            );
        }
        assert_eq!(MIGRATIONS.last().unwrap().0, SCHEMA_VERSION);
        assert_eq!(migrations_after(1).count(), MIGRATIONS.len());
        assert_eq!(migrations_after(SCHEMA_VERSION).count(), 0);
    }

    #[test]
    fn bindings_match_placeholders() {
        let writes = [
            Write::Meta(Meta {
                session_id: "s".into(),
                owner: Owner::User("u".into()),
                age: Some(9),
                mode: Mode::MirrorLearning,
                tier: Tier::SUBSTANCES,
                fundraising_left: 0,
                created_at: 1,
                updated_at: 2,
            }),
            Write::Message(Message {
                id: "m".into(),
                role: Role::User,
                content: "hi".into(),
                ts: 3,
                interrupted: false,
            }),
            Write::SafetyEvent(SafetyEvent {
                message_id: "m".into(),
                tier: Tier::CRISIS,
                categories: vec!["suicide".into()],
                rules: vec!["suicide.want_die".into()],
                source: "rules",
                ts: 4,
            }),
            Write::Owed {
                message: Message {
                    id: "m".into(),
                    role: Role::User,
                    content: "hi".into(),
                    ts: 3,
                    interrupted: false,
                },
                reply_id: "r".into(),
            },
            Write::Partial {
                reply_id: "r".into(),
                text: "Hel".into(),
                ts: 5,
            },
            Write::Unowed { reply_id: "r".into() },
            Write::Forget { reply_id: "r".into() },
        ];
        for w in writes {
            let (sql, binds) = w.sql();
            assert_eq!(sql.matches('?').count(), binds.len(), "{sql}");
        }
    }
}
