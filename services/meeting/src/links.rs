//! `ValidateMeetingLink`: recognises the real URL shapes of each provider and rejects
//! everything else — other schemes (`javascript:`, `data:`, `http:`), credentials in the
//! URL, look-alike hosts (`meet.google.com.evil.com`, `evilzoom.us`, punycode twins),
//! IP literals, odd ports, and paths that are not meetings.
//!
//! - Google Meet: `https://meet.google.com/abc-defg-hij` (also the 10 letters without
//!   dashes, and the longer `[a-z]+-[a-z]+-[a-z]+` codes of the Meet API); query dropped.
//! - Zoom: `https://[sub.]zoom.us/j/<9–11 digits>[?pwd=…]` with regional (`us02web`) and
//!   vanity subdomains, `/w/` webinars, `/my/<vanity>` personal rooms and the web client's
//!   `/wc/join/<id>`; `zoomgov.com` likewise. `pwd` is kept, other parameters dropped.
//! - Jitsi: `https://<configured domain>/[<tenant>/]<room>[?jwt=…]`; `8x8.vc` needs its
//!   `vpaas-magic-cookie-…` tenant.

use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::domain::ProviderKind;

const MAX_URL_LEN: usize = 2048;

/// What a normalized Jitsi room segment keeps unencoded.
const ROOM_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// Jitsi paths that are the web app's own files and endpoints, not rooms.
const JITSI_RESERVED: &[&str] = &[
    "static",
    "libs",
    "css",
    "images",
    "sounds",
    "fonts",
    "lang",
    "http-bind",
    "xmpp-websocket",
    "colibri-ws",
    "config.js",
    "interface_config.js",
    "external_api.js",
];

#[derive(Clone, Debug)]
pub struct LinkValidator {
    /// Jitsi hosts, lower-case, with `:port` when not 443.
    jitsi_hosts: Vec<String>,
}

/// A recognised link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidLink {
    pub provider: ProviderKind,
    pub normalized: String,
}

impl LinkValidator {
    /// `jitsi_hosts` in addition to `meet.jit.si` and `8x8.vc`.
    pub fn new(jitsi_hosts: impl IntoIterator<Item = String>) -> Self {
        let mut hosts: Vec<String> = vec!["meet.jit.si".into(), "8x8.vc".into()];
        for h in jitsi_hosts {
            let h = h.trim().trim_end_matches('/').to_ascii_lowercase();
            let h = h
                .strip_prefix("https://")
                .map(str::to_owned)
                .unwrap_or(h)
                .trim_end_matches(":443")
                .to_owned();
            if !h.is_empty() && !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        Self { jitsi_hosts: hosts }
    }

    pub fn validate(&self, raw: &str) -> Result<ValidLink, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the link is empty".into());
        }
        if raw.len() > MAX_URL_LEN {
            return Err(format!("the link is longer than {MAX_URL_LEN} characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the link contains spaces or control characters".into());
        }
        if raw.contains('\\') {
            return Err("the link contains a backslash".into());
        }
        // Checked on the raw text too: the parser would accept `HTTPS:meet.google.com`.
        if !raw
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        {
            return Err("only https:// meeting links are accepted".into());
        }
        let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        if url.scheme() != "https" {
            return Err("only https:// meeting links are accepted".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("links with credentials before the host are not accepted".into());
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_owned(),
            Some(_) => return Err("links to IP addresses are not meeting links".into()),
            None => return Err("the link has no host".into()),
        };
        let host_port = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.collect::<Vec<_>>())
            .unwrap_or_default();
        // One trailing slash is harmless; empty segments elsewhere are not.
        let segments: Vec<&str> = match segments.split_last() {
            Some((&"", rest)) => rest.to_vec(),
            _ => segments,
        };
        if segments.iter().any(|s| s.is_empty()) {
            return Err("the link's path has empty segments".into());
        }

        if host == "meet.google.com" {
            no_port(&url)?;
            return google(&segments);
        }
        if is_zoom_host(&host) {
            no_port(&url)?;
            return zoom(&host, &segments, &url);
        }
        if self.jitsi_hosts.contains(&host_port) {
            return jitsi(&host_port, &segments, &url);
        }
        Err(format!(
            "{host} is not a Google Meet, Zoom or configured Jitsi host"
        ))
    }
}

fn no_port(url: &Url) -> Result<(), String> {
    match url.port() {
        None => Ok(()),
        Some(p) => Err(format!("port {p} is not used by this provider")),
    }
}

fn google(segments: &[&str]) -> Result<ValidLink, String> {
    let [code] = segments else {
        return Err("a Google Meet link is https://meet.google.com/<code>".into());
    };
    let code = code.to_ascii_lowercase();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let parts: Vec<&str> = code.split('-').collect();
    let normalized = match parts.as_slice() {
        [a, b, c] if letters(a) && letters(b) && letters(c) && code.len() <= 128 => code.clone(),
        [one] if one.len() == 10 && letters(one) => {
            format!("{}-{}-{}", &one[..3], &one[3..7], &one[7..])
        }
        _ => return Err(format!("{code:?} is not a Google Meet code (abc-defg-hij)")),
    };
    Ok(ValidLink {
        provider: ProviderKind::GoogleMeet,
        normalized: format!("https://meet.google.com/{normalized}"),
    })
}

/// `zoom.us` or `zoomgov.com`, or exactly one DNS label under one of them.
fn is_zoom_host(host: &str) -> bool {
    ["zoom.us", "zoomgov.com"].into_iter().any(|base| {
        host == base
            || host
                .strip_suffix(base)
                .and_then(|s| s.strip_suffix('.'))
                .is_some_and(is_dns_label)
    })
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.starts_with("xn--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn zoom(host: &str, segments: &[&str], url: &Url) -> Result<ValidLink, String> {
    let meeting_id = |s: &str| (9..=11).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let path = match segments {
        ["j", id] if meeting_id(id) => format!("/j/{id}"),
        ["w", id] if meeting_id(id) => format!("/w/{id}"),
        ["wc", "join", id] | ["wc", id, "join"] if meeting_id(id) => format!("/j/{id}"),
        ["my", vanity]
            if vanity.len() <= 64
                && vanity
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') =>
        {
            format!("/my/{}", vanity.to_ascii_lowercase())
        }
        ["s", _] => {
            return Err(
                "a Zoom /s/ link starts the meeting as its host; share the join link".into(),
            );
        }
        _ => {
            return Err(
                "a Zoom link is https://<zoom host>/j/<meeting id of 9 to 11 digits>".into(),
            );
        }
    };
    let mut normalized = format!("https://{host}{path}");
    let mut pwd_seen = false;
    for (k, v) in url.query_pairs() {
        if k == "pwd" {
            if pwd_seen {
                return Err("the Zoom link has two passcodes".into());
            }
            pwd_seen = true;
            if v.is_empty()
                || v.len() > 128
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err("the Zoom passcode (pwd) has unexpected characters".into());
            }
            normalized.push_str("?pwd=");
            normalized.push_str(&v);
        }
    }
    Ok(ValidLink {
        provider: ProviderKind::Zoom,
        normalized,
    })
}

fn jitsi(host: &str, segments: &[&str], url: &Url) -> Result<ValidLink, String> {
    let (tenant, room) = match segments {
        [room] => (None, *room),
        [tenant, room] => (Some(tenant.to_ascii_lowercase()), *room),
        _ => return Err("a Jitsi link is https://<domain>/[<tenant>/]<room>".into()),
    };
    if let Some(t) = &tenant
        && !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!("{t:?} is not a Jitsi tenant"));
    }
    if host == "8x8.vc"
        && !tenant.as_deref().is_some_and(|t| {
            t.strip_prefix("vpaas-magic-cookie-")
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
    {
        return Err("an 8x8.vc link needs its vpaas-magic-cookie-… tenant".into());
    }
    let decoded = percent_decode_str(room)
        .decode_utf8()
        .map_err(|_| "the Jitsi room name is not UTF-8".to_owned())?;
    let room_name = decoded.to_lowercase();
    if room_name.is_empty()
        || room_name.chars().count() > 128
        || !room_name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '~')
    {
        return Err(format!("{decoded:?} is not a Jitsi room name"));
    }
    if JITSI_RESERVED.contains(&room_name.as_str())
        || tenant
            .as_deref()
            .is_some_and(|t| JITSI_RESERVED.contains(&t))
    {
        return Err(format!(
            "/{room_name} is part of the Jitsi web app, not a room"
        ));
    }
    let room_encoded = percent_encoding::utf8_percent_encode(&room_name, ROOM_SEGMENT);
    let mut normalized = match &tenant {
        Some(t) => format!("https://{host}/{t}/{room_encoded}"),
        None => format!("https://{host}/{room_encoded}"),
    };
    for (k, v) in url.query_pairs() {
        if k == "jwt" {
            let parts: Vec<&str> = v.split('.').collect();
            let b64 = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if parts.len() != 3
                || parts[..2].iter().any(|p| p.is_empty())
                || !parts.iter().all(|p| b64(p))
            {
                return Err("the Jitsi jwt parameter is not a JWT".into());
            }
            normalized.push_str("?jwt=");
            normalized.push_str(&v);
            break;
        }
    }
    Ok(ValidLink {
        provider: ProviderKind::Jitsi,
        normalized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> LinkValidator {
        LinkValidator::new([
            "jitsi.example.com".to_owned(),
            "video.example.org:8443".to_owned(),
        ])
    }

    fn ok(url: &str) -> ValidLink {
        v().validate(url)
            .unwrap_or_else(|e| panic!("{url} rejected: {e}"))
    }

    #[test]
    fn google_meet_shapes() {
        let l = ok("https://meet.google.com/abc-mnop-xyz");
        assert_eq!(l.provider, ProviderKind::GoogleMeet);
        assert_eq!(l.normalized, "https://meet.google.com/abc-mnop-xyz");
        assert_eq!(
            ok("https://MEET.google.com/ABC-MNOP-XYZ?authuser=1&hs=122").normalized,
            "https://meet.google.com/abc-mnop-xyz"
        );
        assert_eq!(
            ok("https://meet.google.com/abcmnopxyz").normalized,
            "https://meet.google.com/abc-mnop-xyz"
        );
        assert_eq!(
            ok("https://meet.google.com/abc-mnop-xyz/").normalized,
            "https://meet.google.com/abc-mnop-xyz"
        );
        ok("https://meet.google.com/longer-meeting-code");
    }

    #[test]
    fn zoom_shapes() {
        let l = ok("https://zoom.us/j/85123456789?pwd=aGVsbG9Xb3JsZA.1");
        assert_eq!(l.provider, ProviderKind::Zoom);
        assert_eq!(
            l.normalized,
            "https://zoom.us/j/85123456789?pwd=aGVsbG9Xb3JsZA.1"
        );
        assert_eq!(
            ok("https://us05web.zoom.us/j/85123456789?pwd=abc&omn=123&from=addon").normalized,
            "https://us05web.zoom.us/j/85123456789?pwd=abc"
        );
        assert_eq!(
            ok("https://acme-law.zoom.us/j/123456789").normalized,
            "https://acme-law.zoom.us/j/123456789"
        );
        assert_eq!(
            ok("https://zoom.us/wc/join/85123456789").normalized,
            "https://zoom.us/j/85123456789"
        );
        ok("https://zoom.us/w/9876543210");
        ok("https://acme.zoom.us/my/jane.doe");
        ok("https://agency.zoomgov.com/j/1612345678");
    }

    #[test]
    fn jitsi_shapes() {
        let l = ok("https://meet.jit.si/switchboard-abcdefghijklmnop");
        assert_eq!(l.provider, ProviderKind::Jitsi);
        assert_eq!(
            l.normalized,
            "https://meet.jit.si/switchboard-abcdefghijklmnop"
        );
        assert_eq!(
            ok("https://meet.jit.si/MyRoom#config.startWithAudioMuted=true").normalized,
            "https://meet.jit.si/myroom"
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiKiJ9.c2lnbmF0dXJl";
        assert_eq!(
            ok(&format!("https://jitsi.example.com/team/room-1?jwt={jwt}")).normalized,
            format!("https://jitsi.example.com/team/room-1?jwt={jwt}")
        );
        ok("https://8x8.vc/vpaas-magic-cookie-0123abcd/room");
        ok("https://video.example.org:8443/room");
        assert_eq!(
            ok("https://meet.jit.si/K%C3%B6ln-Raum").normalized,
            "https://meet.jit.si/k%C3%B6ln-raum"
        );
    }

    #[test]
    fn look_alikes_and_dangerous_schemes_are_rejected() {
        for bad in [
            "",
            "   ",
            "javascript:alert(1)",
            "JavaScript:alert('https://meet.google.com/abc-mnop-xyz')",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "http://meet.google.com/abc-mnop-xyz",
            "//meet.google.com/abc-mnop-xyz",
            "meet.google.com/abc-mnop-xyz",
            "https:meet.google.com/abc-mnop-xyz",
            "https://meet.google.com.evil.com/abc-mnop-xyz",
            "https://meet.google.com@evil.com/abc-mnop-xyz",
            "https://evil.com@meet.google.com/abc-mnop-xyz",
            "https://user:pass@zoom.us/j/123456789",
            "https://evil.com/meet.google.com/abc-mnop-xyz",
            "https://meet.google.com./abc-mnop-xyz",
            "https://meet.gооgle.com/abc-mnop-xyz",
            "https://meet.google.com:8443/abc-mnop-xyz",
            "https://meet.google.com/abc-mnop-xyz/extra",
            "https://meet.google.com/",
            "https://meet.google.com/abc-123-xyz",
            "https://meet.google.com/abc-\nmnop-xyz",
            "https://meet.google.com/abc-mnop-xyz\t?x=1",
            "https://meet.google.com/abc mnop-xyz",
            "https://meet.google.com\\@evil.com/abc-mnop-xyz",
            "https://meet.google.com%2eevil.com/abc-mnop-xyz",
            "https://evilzoom.us/j/85123456789",
            "https://zoom.us.evil.com/j/85123456789",
            "https://a.b.zoom.us/j/85123456789",
            "https://zoom.us/j/12345",
            "https://zoom.us/j/85123456789abc",
            "https://zoom.us/s/85123456789?zak=x",
            "https://zoom.us/j/85123456789?pwd=<script>",
            "https://xn--zom-ioa.zoom.us/j/85123456789",
            "https://142.250.1.1/abc-mnop-xyz",
            "https://[::1]/room",
            "https://meet.jit.si/",
            "https://meet.jit.si/a/b/c",
            "https://meet.jit.si/room%3Fx",
            "https://meet.jit.si/static",
            "https://meet.jit.si/config.js",
            "https://meet.jit.si/room?jwt=not-a-token",
            "https://8x8.vc/room",
            "https://jitsi.evil.com/room",
            "https://video.example.org/room",
            "ftp://zoom.us/j/85123456789",
        ] {
            assert!(v().validate(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn reasons_say_what_is_wrong() {
        let e = v().validate("javascript:alert(1)").unwrap_err();
        assert!(e.contains("https"), "{e}");
        let e = v()
            .validate("https://meet.google.com.evil.com/abc-mnop-xyz")
            .unwrap_err();
        assert!(e.contains("meet.google.com.evil.com"), "{e}");
    }
}
