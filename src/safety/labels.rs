//! The words of a verdict: a message's tier and its danger categories.

use serde::Serialize;

/// How much danger a message (or a session) shows: 1 none seen, 2 substances, 3 crisis.
/// On the wire, in logs and in storage it is the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Tier(u8);

impl Tier {
    /// Tier 1: no sign of risk.
    pub const NONE: Tier = Tier(1);
    /// Tier 2: alcohol, drugs, vaping, misused medication.
    pub const SUBSTANCES: Tier = Tier(2);
    /// Tier 3: suicide, self-harm, abuse or danger from others.
    pub const CRISIS: Tier = Tier(3);

    /// A stored or reported number, clamped into 1–3.
    pub fn clamped(n: u8) -> Tier {
        Tier(n.clamp(1, 3))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Tier 2 or 3: a `safety_alert`, a stored safety event, help resources shown.
    pub fn alerts(self) -> bool {
        self >= Tier::SUBSTANCES
    }

    /// Tier 3: URGENCY, and every reply carries the crisis resources.
    pub fn is_crisis(self) -> bool {
        self >= Tier::CRISIS
    }
}

impl Default for Tier {
    fn default() -> Tier {
        Tier::NONE
    }
}

impl PartialEq<u8> for Tier {
    fn eq(&self, n: &u8) -> bool {
        self.0 == *n
    }
}

impl From<Tier> for u8 {
    fn from(t: Tier) -> u8 {
        t.0
    }
}

impl From<Tier> for u32 {
    fn from(t: Tier) -> u32 {
        t.0.into()
    }
}

impl From<Tier> for i64 {
    fn from(t: Tier) -> i64 {
        t.0.into()
    }
}

impl From<Tier> for serde_json::Value {
    fn from(t: Tier) -> serde_json::Value {
        t.0.into()
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Suicide,
    SelfHarm,
    Abuse,
    Danger,
    Substances,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Suicide => "suicide",
            Category::SelfHarm => "self_harm",
            Category::Abuse => "abuse",
            Category::Danger => "danger",
            Category::Substances => "substances",
        }
    }

    pub fn tier(self) -> Tier {
        match self {
            Category::Substances => Tier::SUBSTANCES,
            _ => Tier::CRISIS,
        }
    }

    /// The id a raise by the conversation context is reported under.
    pub fn context_id(self) -> &'static str {
        match self {
            Category::Suicide => "context.suicide",
            Category::SelfHarm => "context.self_harm",
            Category::Abuse => "context.abuse",
            Category::Danger => "context.danger",
            Category::Substances => "context.substances",
        }
    }

    /// The id a model flag is reported under, beside the rule ids.
    pub(crate) fn model_id(self) -> &'static str {
        match self {
            Category::Suicide => "model.suicide",
            Category::SelfHarm => "model.self_harm",
            Category::Abuse => "model.abuse",
            Category::Danger => "model.danger",
            Category::Substances => "model.substances",
        }
    }
}
