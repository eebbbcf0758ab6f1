//! The meeting service's domain values: providers, people (organizer and attendees) and
//! the checks their free-form fields get before anything reaches a provider.

use serde::{Deserialize, Serialize};
use switchboard_proto::meeting::v1 as pb;

/// A video-meeting provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Jitsi,
    GoogleMeet,
    Zoom,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [Self::Jitsi, Self::GoogleMeet, Self::Zoom];

    /// The name stored in `meetings.provider` and used in settings and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jitsi => "jitsi",
            Self::GoogleMeet => "google_meet",
            Self::Zoom => "zoom",
        }
    }

    /// Accepts the stored names and the obvious aliases (`google`, `meet`).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "jitsi" => Some(Self::Jitsi),
            "google_meet" | "google" | "meet" | "google-meet" => Some(Self::GoogleMeet),
            "zoom" => Some(Self::Zoom),
            _ => None,
        }
    }

    pub fn to_proto(self) -> pb::Provider {
        match self {
            Self::Jitsi => pb::Provider::Jitsi,
            Self::GoogleMeet => pb::Provider::GoogleMeet,
            Self::Zoom => pb::Provider::Zoom,
        }
    }

    /// `None` for `PROVIDER_UNSPECIFIED` and unknown numbers.
    pub fn from_proto(raw: i32) -> Option<Self> {
        match pb::Provider::try_from(raw).ok()? {
            pb::Provider::Jitsi => Some(Self::Jitsi),
            pb::Provider::GoogleMeet => Some(Self::GoogleMeet),
            pb::Provider::Zoom => Some(Self::Zoom),
            pb::Provider::Unspecified => None,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An organizer or attendee: an e-mail address and maybe a display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Person {
    /// Validates the address (it ends up in `mailto:` URIs and provider requests) and
    /// tidies the name.
    pub fn parse(email: &str, name: Option<&str>) -> Result<Self, String> {
        let email = email.trim();
        if !is_plausible_email(email) {
            return Err(format!("{email:?} is not an e-mail address"));
        }
        let name = name
            .map(clean_line)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(200).collect());
        Ok(Self {
            email: email.to_owned(),
            name,
        })
    }

    pub fn from_proto(a: &pb::Attendee) -> Result<Self, String> {
        Self::parse(&a.email, a.display_name.as_deref())
    }

    pub fn to_proto(&self) -> pb::Attendee {
        pb::Attendee {
            email: self.email.clone(),
            display_name: self.name.clone(),
        }
    }

    /// `Name <email>` or the bare address, for `MAIL_FROM`-style settings.
    pub fn parse_mailbox(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        match (raw.rfind('<'), raw.ends_with('>')) {
            (Some(open), true) => {
                let name = raw[..open].trim().trim_matches('"').trim();
                Self::parse(
                    &raw[open + 1..raw.len() - 1],
                    (!name.is_empty()).then_some(name),
                )
            }
            _ => Self::parse(raw, None),
        }
    }
}

/// One local part, one `@`, a domain with no spaces or control characters: enough to keep
/// injected parameters out of ICS lines and provider bodies; the mail server decides the rest.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && email.len() <= 254
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';' | ':' | '\\'))
}

/// A single line of text: control characters (line breaks included) become spaces, runs
/// of spaces collapse, the ends are trimmed.
pub fn clean_line(raw: &str) -> String {
    raw.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A time zone name as providers take it (`Europe/Berlin`, `UTC`, `Etc/GMT+5`); the
/// providers themselves reject unknown ones.
pub fn is_plausible_time_zone(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= 64
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        && !tz.starts_with('/')
        && !tz.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for p in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(p.as_str()), Some(p));
            assert_eq!(ProviderKind::from_proto(p.to_proto() as i32), Some(p));
        }
        assert_eq!(
            ProviderKind::parse(" Google "),
            Some(ProviderKind::GoogleMeet)
        );
        assert_eq!(ProviderKind::parse("teams"), None);
        assert_eq!(ProviderKind::from_proto(0), None);
    }

    #[test]
    fn emails_that_could_break_a_line_or_a_parameter_are_refused() {
        assert!(is_plausible_email("jane.doe+law@example.org"));
        for bad in [
            "",
            "jane",
            "@example.org",
            "jane@",
            "jane@@example.org",
            "jane@example.org\r\nATTENDEE:mailto:x@y",
            "jane doe@example.org",
            "jane@example.org;RSVP=TRUE",
            "\"jane\"@example.org",
            "jane@.example.org",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn mailboxes_with_and_without_names() {
        let p = Person::parse_mailbox("Switchboard <switchboard@localhost>").unwrap();
        assert_eq!(p.email, "switchboard@localhost");
        assert_eq!(p.name.as_deref(), Some("Switchboard"));
        let p = Person::parse_mailbox("\"Doe, Jane\" <jane@example.org>").unwrap();
        assert_eq!(p.name.as_deref(), Some("Doe, Jane"));
        let p = Person::parse_mailbox("bare@example.org").unwrap();
        assert_eq!(p.name, None);
        assert!(Person::parse_mailbox("Nobody <>").is_err());
    }

    #[test]
    fn names_lose_line_breaks() {
        let p = Person::parse("a@b.c", Some("  Jane\r\n  Doe\t ")).unwrap();
        assert_eq!(p.name.as_deref(), Some("Jane Doe"));
        assert_eq!(Person::parse("a@b.c", Some(" \n ")).unwrap().name, None);
    }

    #[test]
    fn time_zones() {
        for ok in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_plausible_time_zone(ok), "{ok}");
        }
        for bad in ["", "Europe/Berlin\n", "../etc/passwd", "/UTC", "Zone Name"] {
            assert!(!is_plausible_time_zone(bad), "{bad:?}");
        }
    }
}
