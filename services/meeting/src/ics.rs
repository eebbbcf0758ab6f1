//! RFC 5545 invitations (iTIP `REQUEST` and `CANCEL`, RFC 5546): CRLF line ends, content
//! lines folded at 75 octets without splitting a UTF-8 sequence, TEXT escaping, quoted
//! parameter values, a `UID` stable per meeting and a `SEQUENCE` the caller bumps on every
//! change.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::domain::Person;

/// The iTIP method, which decides `METHOD` and `STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

pub struct Invitation<'a> {
    pub uid: &'a str,
    pub sequence: u32,
    pub method: Method,
    /// When this version of the object was made (`DTSTAMP`).
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: &'a str,
    pub description: Option<&'a str>,
    pub join_url: &'a str,
    pub organizer: &'a Person,
    pub attendees: &'a [Person],
}

/// The longest content line, in octets, excluding its CRLF (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

impl Invitation<'_> {
    /// The whole `VCALENDAR`, every line ending in CRLF.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut line = |l: String| fold_into(&mut out, &l);
        line("BEGIN:VCALENDAR".into());
        line("PRODID:-//Switchboard//Meeting Service//EN".into());
        line("VERSION:2.0".into());
        line("CALSCALE:GREGORIAN".into());
        line(
            match self.method {
                Method::Request => "METHOD:REQUEST",
                Method::Cancel => "METHOD:CANCEL",
            }
            .into(),
        );
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", text(self.uid)));
        line(format!("DTSTAMP:{}", utc(self.stamp)));
        line(format!("DTSTART:{}", utc(self.start)));
        line(format!("DTEND:{}", utc(self.end)));
        line(format!("SEQUENCE:{}", self.sequence));
        line(
            match self.method {
                Method::Request => "STATUS:CONFIRMED",
                Method::Cancel => "STATUS:CANCELLED",
            }
            .into(),
        );
        line(format!("SUMMARY:{}", text(self.summary)));
        let mut description = format!("Join: {}", self.join_url);
        if let Some(d) = self.description.filter(|d| !d.trim().is_empty()) {
            description.push_str("\n\n");
            description.push_str(d);
        }
        line(format!("DESCRIPTION:{}", text(&description)));
        line(format!("LOCATION:{}", text(self.join_url)));
        line(format!("URL:{}", uri(self.join_url)));
        line(format!(
            "ORGANIZER{}:mailto:{}",
            cn(self.organizer),
            uri(&self.organizer.email)
        ));
        for a in self.attendees {
            line(format!(
                "ATTENDEE{};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{}",
                cn(a),
                uri(&a.email)
            ));
        }
        line("TRANSP:OPAQUE".into());
        line("END:VEVENT".into());
        line("END:VCALENDAR".into());
        out
    }
}

/// `20261201T150000Z`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (§3.3.11): backslash, semicolon and comma escaped, every line break
/// (CRLF, LF or CR) as `\n`, other control characters dropped.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A URI value: not TEXT-escaped, so control characters are the only thing to keep out.
fn uri(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// `;CN=…` with the value quoted when it holds `:` `;` or `,` (§3.2); a DQUOTE cannot
/// appear inside a parameter value at all, so it becomes a single quote.
fn cn(p: &Person) -> String {
    match &p.name {
        None => String::new(),
        Some(name) => format!(";CN={}", param_value(name)),
    }
}

fn param_value(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' { '\'' } else { c })
        .collect();
    if cleaned.contains([':', ';', ',']) {
        format!("\"{cleaned}\"")
    } else {
        cleaned
    }
}

/// Appends `line` folded: each physical line at most 75 octets, continuation lines start
/// with one space, and a cut never falls inside a UTF-8 sequence.
fn fold_into(out: &mut String, line: &str) {
    let mut budget = MAX_LINE_OCTETS;
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > budget {
            out.push_str("\r\n ");
            // The leading space counts toward the continuation line's 75 octets.
            budget = MAX_LINE_OCTETS - 1;
            used = 0;
        }
        out.push(c);
        used += len;
    }
    let _ = write!(out, "\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use icalendar::parser::{read_calendar, unfold};

    fn people() -> (Person, Vec<Person>) {
        (
            Person::parse("switchboard@example.com", Some("Switchboard")).unwrap(),
            vec![
                Person::parse("jane@example.org", Some("Doe, Jane")).unwrap(),
                Person::parse("lawyer@example.org", Some("Sam \"The\" Lawyer")).unwrap(),
                Person::parse("anon@example.org", None).unwrap(),
            ],
        )
    }

    fn invitation<'a>(
        organizer: &'a Person,
        attendees: &'a [Person],
        summary: &'a str,
        method: Method,
        sequence: u32,
    ) -> Invitation<'a> {
        Invitation {
            uid: "0190a6a4-0000-7000-8000-000000000001@example.com",
            sequence,
            method,
            stamp: Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap(),
            start: Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap(),
            summary,
            description: Some("Agenda: intro; Q&A, next steps\nBring: ID\\passport"),
            join_url: "https://meet.google.com/abc-mnop-xyz",
            organizer,
            attendees,
        }
    }

    const LONG_TITLE: &str = "Consultation about the tenancy, deposit; and repairs\nwith \
        Jänë Dœ — Überlänge: ünïcödé çhäräctérs everywhere, to force folding in the middle \
        of multi-octet sequences 日本語のテキスト";

    #[test]
    fn every_line_is_crlf_terminated_and_at_most_75_octets() {
        let (org, att) = people();
        let ics = invitation(&org, &att, LONG_TITLE, Method::Request, 0).render();
        assert!(ics.ends_with("\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF");
        assert!(!ics.replace("\r\n", "").contains('\r'), "bare CR");
        let lines: Vec<&str> = ics.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines.iter().any(|l| l.starts_with(' ')), "something folded");
        for l in &lines {
            assert!(l.len() <= 75, "{} octets: {l:?}", l.len());
        }
        // Folding never cut a character: every physical line is valid UTF-8 by itself.
        for l in ics.as_bytes().split(|b| *b == b'\n') {
            assert!(std::str::from_utf8(l).is_ok());
        }
    }

    #[test]
    fn an_independent_parser_reads_back_every_field() {
        let (org, att) = people();
        let ics = invitation(&org, &att, LONG_TITLE, Method::Request, 3).render();
        let unfolded = unfold(&ics);
        let cal = read_calendar(&unfolded).expect("parses");
        let prop = |name: &str| {
            cal.properties
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.val.as_str().to_owned())
        };
        assert_eq!(prop("METHOD").as_deref(), Some("REQUEST"));
        assert_eq!(prop("VERSION").as_deref(), Some("2.0"));
        assert!(prop("PRODID").is_some());
        assert_eq!(cal.components.len(), 1);
        let event = &cal.components[0];
        assert_eq!(event.name, "VEVENT");
        let get = |name: &str| event.find_prop(name).map(|p| p.val.as_str().to_owned());
        // TEXT values come back unescaped, exactly as given (line breaks included).
        assert_eq!(get("SUMMARY").unwrap(), LONG_TITLE);
        assert_eq!(
            get("DESCRIPTION").unwrap(),
            "Join: https://meet.google.com/abc-mnop-xyz\n\nAgenda: intro; Q&A, next steps\nBring: ID\\passport"
        );
        assert_eq!(
            get("UID").unwrap(),
            "0190a6a4-0000-7000-8000-000000000001@example.com"
        );
        assert_eq!(get("SEQUENCE").unwrap(), "3");
        assert_eq!(get("STATUS").unwrap(), "CONFIRMED");
        assert_eq!(get("DTSTAMP").unwrap(), "20261125T120000Z");
        assert_eq!(get("DTSTART").unwrap(), "20261201T150000Z");
        assert_eq!(get("DTEND").unwrap(), "20261201T153000Z");
        assert_eq!(get("URL").unwrap(), "https://meet.google.com/abc-mnop-xyz");
        let organizer = event.find_prop("ORGANIZER").unwrap();
        assert_eq!(organizer.val.as_str(), "mailto:switchboard@example.com");
        let attendees: Vec<_> = event
            .properties
            .iter()
            .filter(|p| p.name == "ATTENDEE")
            .collect();
        assert_eq!(attendees.len(), 3);
        assert_eq!(attendees[0].val.as_str(), "mailto:jane@example.org");
        let param = |p: &icalendar::parser::Property<'_>, key: &str| {
            p.params
                .iter()
                .find(|x| x.key == key)
                .and_then(|x| x.val.as_ref().map(|v| v.as_str().to_owned()))
        };
        assert_eq!(param(attendees[0], "RSVP").as_deref(), Some("TRUE"));
        assert_eq!(
            param(attendees[0], "PARTSTAT").as_deref(),
            Some("NEEDS-ACTION")
        );
        assert_eq!(
            param(attendees[0], "ROLE").as_deref(),
            Some("REQ-PARTICIPANT")
        );
        let jane = param(attendees[0], "CN").unwrap();
        assert_eq!(jane.trim_matches('"'), "Doe, Jane");
        assert_eq!(
            param(attendees[1], "CN").as_deref(),
            Some("Sam 'The' Lawyer")
        );
        assert_eq!(param(attendees[2], "CN"), None);
    }

    #[test]
    fn cancellation_keeps_the_uid_and_marks_the_event_cancelled() {
        let (org, att) = people();
        let request = invitation(&org, &att, "Intro call", Method::Request, 0).render();
        let cancel = invitation(&org, &att, "Intro call", Method::Cancel, 1).render();
        let (request, cancel) = (unfold(&request), unfold(&cancel));
        let req = read_calendar(&request).unwrap();
        let can = read_calendar(&cancel).unwrap();
        let method = |c: &icalendar::parser::Calendar<'_>| {
            c.properties
                .iter()
                .find(|p| p.name == "METHOD")
                .unwrap()
                .val
                .as_str()
                .to_owned()
        };
        assert_eq!(method(&req), "REQUEST");
        assert_eq!(method(&can), "CANCEL");
        let (re, ce) = (&req.components[0], &can.components[0]);
        assert_eq!(
            re.find_prop("UID").unwrap().val,
            ce.find_prop("UID").unwrap().val
        );
        assert_eq!(ce.find_prop("STATUS").unwrap().val, "CANCELLED");
        assert_eq!(ce.find_prop("SEQUENCE").unwrap().val, "1");
        assert_eq!(
            ce.properties
                .iter()
                .filter(|p| p.name == "ATTENDEE")
                .count(),
            3
        );
    }

    #[test]
    fn escaping_and_folding_by_hand() {
        assert_eq!(
            text("a,b;c\\d\r\ne\nf\rg\u{7}h\ti"),
            "a\\,b\\;c\\\\d\\ne\\nf\\ngh i"
        );
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "x".repeat(200));
        fold_into(&mut out, &line);
        let parts: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
        assert_eq!(parts[0].len(), 75);
        assert!(
            parts[1..]
                .iter()
                .all(|p| p.starts_with(' ') && p.len() <= 75)
        );
        assert_eq!(unfold(&out).trim_end(), line);
        // A three-octet character that would straddle octet 75 moves whole to the next line.
        let mut out = String::new();
        let line = format!("SUMMARY:{}€tail", "y".repeat(66));
        fold_into(&mut out, &line);
        let first = out.split("\r\n").next().unwrap();
        assert_eq!(first.len(), 74);
        assert_eq!(unfold(&out).trim_end(), line);
    }
}
