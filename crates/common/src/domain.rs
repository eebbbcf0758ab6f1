//! Validated domain values, checked once where they enter the system.

/// Default and maximum length of a message, in characters (SPEC §2.4).
pub const MAX_CONTENT_CHARS: usize = 5000;
/// Maximum length of a client message id, in characters.
pub const MAX_CLIENT_MSG_ID_CHARS: usize = 64;

/// Message text: 1 to `max` characters, not only whitespace, no control characters other
/// than tab, newline and carriage return (PostgreSQL text cannot hold NUL at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageContent(String);

impl MessageContent {
    pub fn parse(raw: String, max_chars: usize) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err("content must not be empty or blank".into());
        }
        let chars = raw.chars().count();
        if chars > max_chars {
            return Err(format!(
                "content is {chars} characters; at most {max_chars} are allowed"
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err("content must not contain control characters".into());
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The client's idempotency key for a send: 1 to 64 characters of its choosing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(raw: String) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_CLIENT_MSG_ID_CHARS {
            return Err(format!(
                "clientMsgId must be 1 to {MAX_CLIENT_MSG_ID_CHARS} characters"
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err("clientMsgId must not contain control characters".into());
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_rules() {
        assert!(MessageContent::parse("hi".into(), 5000).is_ok());
        assert!(MessageContent::parse("line\nbreak\ttab".into(), 5000).is_ok());
        assert!(MessageContent::parse("".into(), 5000).is_err());
        assert!(MessageContent::parse(" \n\t ".into(), 5000).is_err());
        assert!(MessageContent::parse("a\u{0}b".into(), 5000).is_err());
        assert!(MessageContent::parse("a\u{7}b".into(), 5000).is_err());
        // Characters, not bytes: 5000 emoji are fine, 5001 are not.
        assert!(MessageContent::parse("😀".repeat(5000), 5000).is_ok());
        assert!(MessageContent::parse("😀".repeat(5001), 5000).is_err());
    }

    #[test]
    fn client_msg_id_rules() {
        assert!(ClientMsgId::parse("a".into()).is_ok());
        assert!(ClientMsgId::parse("x".repeat(64)).is_ok());
        assert!(ClientMsgId::parse("x".repeat(65)).is_err());
        assert!(ClientMsgId::parse(String::new()).is_err());
        assert!(ClientMsgId::parse("a\nb".into()).is_err());
    }
}
