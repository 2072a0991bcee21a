//! The OpenAI chat-completions request and its streamed response deltas.

use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

/// An HTTP request the shell sends as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// `POST {base}/chat/completions` with `stream: true`.
pub fn chat_request(
    base_url: &str,
    api_key: &str,
    model: &str,
    messages: &[ChatMessage],
    workflow_id: Option<&str>,
    session_id: &str,
) -> HttpRequest {
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "temperature": 0.7,
    });
    if let Some(w) = workflow_id {
        body["metadata"] = json!({ "workflow_id": w, "session_id": session_id });
    }
    HttpRequest {
        url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
        headers: vec![
            ("Authorization".into(), format!("Bearer {api_key}")),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "text/event-stream".into()),
        ],
        body: body.to_string(),
    }
}

/// `POST {base}/moderations` with `omni-moderation-latest`.
pub fn moderation_request(base_url: &str, api_key: &str, text: &str) -> HttpRequest {
    HttpRequest {
        url: format!("{}/moderations", base_url.trim_end_matches('/')),
        headers: vec![
            ("Authorization".into(), format!("Bearer {api_key}")),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: json!({ "model": "omni-moderation-latest", "input": text }).to_string(),
    }
}

/// The categories a moderation answer flags (`self-harm/intent`, …).
pub fn parse_moderation(body: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let categories = v["results"][0]["categories"].as_object().ok_or("no results[0].categories")?;
    Ok(categories
        .iter()
        .filter(|(_, flagged)| flagged.as_bool() == Some(true))
        .map(|(name, _)| name.clone())
        .collect())
}

/// What one SSE `data:` line of a chat-completions stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    Delta(String),
    Finished,
    Done,
    Error(String),
    Ignored,
}

pub fn parse_stream_data(data: &str) -> StreamItem {
    let data = data.trim();
    if data == "[DONE]" {
        return StreamItem::Done;
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return StreamItem::Error("unparseable stream data".into());
    };
    if let Some(err) = v.get("error") {
        let msg = err.get("message").and_then(Value::as_str).unwrap_or("upstream error");
        return StreamItem::Error(msg.chars().take(200).collect());
    }
    let choice = &v["choices"][0];
    if let Some(text) = choice["delta"]["content"].as_str() {
        if !text.is_empty() {
            return StreamItem::Delta(text.to_string());
        }
    }
    if choice["finish_reason"].is_string() {
        return StreamItem::Finished;
    }
    StreamItem::Ignored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape() {
        let msgs = [
            ChatMessage {
                role: "system",
                content: "s".into(),
            },
            ChatMessage {
                role: "user",
                content: "hi".into(),
            },
        ];
        let r = chat_request("http://127.0.0.1:9/v1/", "sk-x", "gpt-4o", &msgs, Some("wf-1"), "sess");
        assert_eq!(r.url, "http://127.0.0.1:9/v1/chat/completions");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["stream"], true);
        assert_eq!(body["temperature"], 0.7);
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["messages"][1]["content"], "hi");
        assert_eq!(body["metadata"]["workflow_id"], "wf-1");
        assert!(r.headers.contains(&("Authorization".into(), "Bearer sk-x".into())));
        let plain: Value = serde_json::from_str(&chat_request("u", "k", "m", &msgs, None, "s").body).unwrap();
        assert!(plain.get("metadata").is_none());
    }

    #[test]
    fn moderation_shape() {
        let r = moderation_request("http://m/v1", "k", "text");
        assert_eq!(r.url, "http://m/v1/moderations");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["model"], "omni-moderation-latest");
        let answer = r#"{"results":[{"flagged":true,"categories":{"self-harm":true,"self-harm/intent":true,"violence":false}}]}"#;
        let mut got = parse_moderation(answer).unwrap();
        got.sort();
        assert_eq!(got, vec!["self-harm", "self-harm/intent"]);
        assert!(parse_moderation("{}").is_err());
        assert!(parse_moderation("nope").is_err());
    }

    #[test]
    fn stream_items() {
        assert_eq!(
            parse_stream_data(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#),
            StreamItem::Delta("Hi".into())
        );
        assert_eq!(
            parse_stream_data(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#),
            StreamItem::Ignored
        );
        assert_eq!(
            parse_stream_data(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#),
            StreamItem::Finished
        );
        assert_eq!(parse_stream_data("[DONE]"), StreamItem::Done);
        assert_eq!(
            parse_stream_data(r#"{"error":{"message":"overloaded"}}"#),
            StreamItem::Error("overloaded".into())
        );
        assert!(matches!(parse_stream_data("{nope"), StreamItem::Error(_)));
    }
}
