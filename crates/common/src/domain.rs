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

/// The rules above, over free-form input: any Unicode, every whitespace and control
/// character, lengths counted in characters however many bytes they take.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// Every character Unicode calls whitespace (what `str::trim` removes).
    fn whitespace() -> Vec<char> {
        (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect()
    }

    /// Control characters a message may not hold: C0 and C1 except tab, newline, CR.
    fn forbidden_control() -> impl Strategy<Value = char> {
        prop::sample::select(
            (0u32..0x20)
                .chain(0x7F..0xA0)
                .filter_map(char::from_u32)
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect::<Vec<_>>(),
        )
    }

    /// A character that is neither whitespace nor a control, from anywhere in Unicode.
    fn visible() -> impl Strategy<Value = char> {
        any::<char>().prop_filter("visible", |c| !c.is_whitespace() && !c.is_control())
    }

    /// The rule restated independently of the implementation.
    fn allowed(s: &str, max: usize) -> bool {
        s.chars().any(|c| !c.is_whitespace())
            && s.chars().count() <= max
            && s.chars()
                .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
    }

    proptest! {
        #[test]
        fn any_string_is_judged_by_the_rule_and_kept_as_sent(s in any::<String>(), max in 1usize..40) {
            match MessageContent::parse(s.clone(), max) {
                Ok(c) => {
                    prop_assert!(allowed(&s, max), "accepted {s:?}");
                    prop_assert_eq!(c.as_str(), s.as_str());
                }
                Err(reason) => {
                    prop_assert!(!allowed(&s, max), "refused {s:?}: {reason}");
                    prop_assert!(!reason.is_empty());
                }
            }
        }

        #[test]
        fn text_with_tabs_and_line_breaks_is_a_message(
            parts in prop::collection::vec((visible(), prop::sample::select(vec!["", " ", "\t", "\n", "\r\n", "\u{3000}"])), 1..30)
        ) {
            let s: String = parts.iter().map(|(c, sep)| format!("{c}{sep}")).collect();
            prop_assert!(MessageContent::parse(s, MAX_CONTENT_CHARS).is_ok());
        }

        #[test]
        fn whitespace_only_is_blank(ws in prop::collection::vec(prop::sample::select(whitespace()), 0..50)) {
            let s: String = ws.into_iter().collect();
            prop_assert!(MessageContent::parse(s, MAX_CONTENT_CHARS).is_err());
        }

        #[test]
        fn one_control_character_anywhere_refuses_the_message(
            text in prop::collection::vec(visible(), 1..40),
            bad in forbidden_control(),
            at in any::<prop::sample::Index>(),
        ) {
            let mut chars = text;
            chars.insert(at.index(chars.len() + 1), bad);
            let s: String = chars.into_iter().collect();
            prop_assert!(MessageContent::parse(s.clone(), MAX_CONTENT_CHARS).is_err(), "{s:?}");
            prop_assert!(ClientMsgId::parse(s).is_err());
        }

        #[test]
        fn the_content_limit_counts_characters_not_bytes(c in visible(), max in 1usize..300) {
            let at_limit = c.to_string().repeat(max);
            prop_assert!(MessageContent::parse(at_limit.clone(), max).is_ok(), "{} bytes", at_limit.len());
            let over = format!("{at_limit}{c}");
            prop_assert!(MessageContent::parse(over, max).is_err());
        }

        #[test]
        fn the_default_limit_is_5000_characters_of_any_width(c in visible()) {
            let s = c.to_string().repeat(MAX_CONTENT_CHARS);
            prop_assert!(MessageContent::parse(s.clone(), MAX_CONTENT_CHARS).is_ok());
            let over = format!("{s}{c}");
            prop_assert!(MessageContent::parse(over, MAX_CONTENT_CHARS).is_err());
        }

        #[test]
        fn any_client_msg_id_is_judged_by_the_rule(s in any::<String>()) {
            let n = s.chars().count();
            let expected = (1..=MAX_CLIENT_MSG_ID_CHARS).contains(&n) && !s.chars().any(char::is_control);
            match ClientMsgId::parse(s.clone()) {
                Ok(id) => {
                    prop_assert!(expected, "accepted {s:?}");
                    prop_assert_eq!(id.as_str(), s.as_str());
                }
                Err(_) => prop_assert!(!expected, "refused {s:?}"),
            }
        }

        #[test]
        fn a_client_msg_id_is_1_to_64_characters_of_any_width(
            c in any::<char>().prop_filter("not a control", |c| !c.is_control()),
            n in 1usize..=MAX_CLIENT_MSG_ID_CHARS,
        ) {
            prop_assert!(ClientMsgId::parse(c.to_string().repeat(n)).is_ok());
            prop_assert!(ClientMsgId::parse(c.to_string().repeat(MAX_CLIENT_MSG_ID_CHARS + n)).is_err());
        }
    }
}
