//! "Add to calendar" links: the Google Calendar event template and the Outlook (Office 365)
//! compose deep link. Neither has an official spec; the parameters are the ones both
//! products have accepted for years (`action=TEMPLATE&text&dates&details&location`,
//! `path=/calendar/action/compose&rru=addevent&subject&startdt&enddt&body&location`).

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters is encoded, so spaces become `%20` (not
/// `+`, which Outlook shows literally).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub struct EventLink<'a> {
    pub title: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub details: &'a str,
    pub location: &'a str,
    /// An IANA zone for Google's `ctz` (the time shown), when the meeting has one.
    pub time_zone: Option<&'a str>,
}

fn enc(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

impl EventLink<'_> {
    pub fn google(&self) -> String {
        let f = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        let mut url = format!(
            "https://calendar.google.com/calendar/render?action=TEMPLATE&text={}&dates={}/{}&details={}&location={}",
            enc(self.title),
            f(self.start),
            f(self.end),
            enc(self.details),
            enc(self.location),
        );
        if let Some(tz) = self.time_zone {
            url.push_str("&ctz=");
            url.push_str(&enc(tz));
        }
        url
    }

    pub fn outlook(&self) -> String {
        let f = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        format!(
            "https://outlook.office.com/calendar/deeplink/compose?path=%2Fcalendar%2Faction%2Fcompose&rru=addevent&subject={}&startdt={}&enddt={}&body={}&location={}",
            enc(self.title),
            enc(&f(self.start)),
            enc(&f(self.end)),
            enc(self.details),
            enc(self.location),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashMap;

    fn query(url: &str) -> HashMap<String, String> {
        let parsed = url::Url::parse(url).unwrap();
        parsed.query_pairs().into_owned().collect()
    }

    fn link() -> EventLink<'static> {
        EventLink {
            title: "Consultation: rent & deposit, 50% refund?",
            start: Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap(),
            details: "Join: https://meet.jit.si/room\nLine two",
            location: "https://meet.jit.si/room",
            time_zone: Some("Europe/Berlin"),
        }
    }

    #[test]
    fn google_template_round_trips_every_value() {
        let url = link().google();
        assert!(url.starts_with("https://calendar.google.com/calendar/render?"));
        assert!(!url.contains(' ') && !url.contains('\n'));
        let q = query(&url);
        assert_eq!(q["action"], "TEMPLATE");
        assert_eq!(q["text"], "Consultation: rent & deposit, 50% refund?");
        assert_eq!(q["dates"], "20261201T150000Z/20261201T153000Z");
        assert_eq!(q["details"], "Join: https://meet.jit.si/room\nLine two");
        assert_eq!(q["location"], "https://meet.jit.si/room");
        assert_eq!(q["ctz"], "Europe/Berlin");
    }

    #[test]
    fn outlook_compose_round_trips_every_value() {
        let url = link().outlook();
        assert!(url.starts_with("https://outlook.office.com/calendar/deeplink/compose?"));
        assert!(url.contains("%20") && !url.contains('+'));
        let q = query(&url);
        assert_eq!(q["path"], "/calendar/action/compose");
        assert_eq!(q["rru"], "addevent");
        assert_eq!(q["subject"], "Consultation: rent & deposit, 50% refund?");
        assert_eq!(q["startdt"], "2026-12-01T15:00:00Z");
        assert_eq!(q["enddt"], "2026-12-01T15:30:00Z");
        assert_eq!(q["body"], "Join: https://meet.jit.si/room\nLine two");
    }
}
