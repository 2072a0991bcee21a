//! Wire codecs, pure and stateless: Engine.IO v4 packets, Socket.IO v5 packets, base64.

pub mod base64;
pub mod engineio;
pub mod socketio;
