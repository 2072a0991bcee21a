//! Help lines shown with alerts and put into crisis replies (CONTRACT §6).

use serde::{Deserialize, Serialize};

/// A help line or service shown with an alert and in crisis replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

fn resource(name: &str, phone: Option<&str>, text: Option<&str>, url: &str) -> Resource {
    Resource {
        name: name.into(),
        phone: phone.map(Into::into),
        text: text.map(Into::into),
        url: Some(url.into()),
    }
}

/// US crisis resources (CONTRACT §6).
pub fn default_crisis_resources() -> Vec<Resource> {
    vec![
        resource(
            "988 Suicide & Crisis Lifeline",
            Some("988"),
            Some("Call or text 988"),
            "https://988lifeline.org",
        ),
        resource(
            "Crisis Text Line",
            None,
            Some("Text HOME to 741741"),
            "https://www.crisistextline.org",
        ),
        resource(
            "Emergency services",
            Some("911"),
            Some("Call 911 if you are in immediate danger"),
            "https://www.911.gov",
        ),
    ]
}

/// US substance-use help (CONTRACT §6).
pub fn default_substance_resources() -> Vec<Resource> {
    vec![resource(
        "SAMHSA National Helpline",
        Some("1-800-662-4357"),
        Some("Free, confidential, 24/7"),
        "https://www.samhsa.gov/find-help/national-helpline",
    )]
}

/// Resources as a few plain lines, for replies.
pub fn resources_text(resources: &[Resource]) -> String {
    resources
        .iter()
        .map(|r| {
            let mut line = format!("• {}", r.name);
            match (&r.phone, &r.text) {
                (Some(p), Some(t)) if !t.contains(p.as_str()) => line.push_str(&format!(": {p} ({t})")),
                (_, Some(t)) => line.push_str(&format!(": {t}")),
                (Some(p), None) => line.push_str(&format!(": {p}")),
                (None, None) => {}
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a reply already names every resource: its phone number, else the number in
/// its text ("Text HOME to 741741" → 741741), else its name.
pub fn mentions_resources(reply: &str, resources: &[Resource]) -> bool {
    let reply = reply.to_lowercase();
    resources.iter().all(|r| {
        let number = r.text.as_deref().and_then(|t| {
            t.split(|c: char| !c.is_ascii_digit())
                .filter(|d| d.len() >= 3)
                .max_by_key(|d| d.len())
        });
        let key = r.phone.as_deref().or(number).unwrap_or(&r.name).to_lowercase();
        reply.contains(&key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_checked_in_replies() {
        let r = default_crisis_resources();
        assert!(!mentions_resources("You matter.", &r));
        assert!(!mentions_resources("Call or text 988.", &r));
        assert!(mentions_resources("Call or text 988, text home to 741741, or call 911.", &r));
        assert!(mentions_resources(&resources_text(&r), &r));
    }
}
