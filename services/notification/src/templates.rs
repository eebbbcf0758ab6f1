//! The e-mail bodies: minijinja templates compiled into the binary. Templates named
//! `*.html` escape every value (user content such as message text and names cannot inject
//! markup); `*.txt` templates are plain text and are not escaped.

use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("digest.txt", include_str!("../templates/digest.txt")),
    ("digest.html", include_str!("../templates/digest.html")),
    (
        "consultation_scheduled.txt",
        include_str!("../templates/consultation_scheduled.txt"),
    ),
    (
        "consultation_scheduled.html",
        include_str!("../templates/consultation_scheduled.html"),
    ),
    (
        "consultation_cancelled.txt",
        include_str!("../templates/consultation_cancelled.txt"),
    ),
    (
        "consultation_cancelled.html",
        include_str!("../templates/consultation_cancelled.html"),
    ),
];

pub struct Templates {
    env: Environment<'static>,
}

/// One e-mail's two bodies.
pub struct Bodies {
    pub text: String,
    pub html: String,
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // A missing value is a bug in the caller, not an empty string in someone's inbox.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // HTML escaping of the five characters that matter (minijinja's own also escapes
        // `/`, which turns every link into `https:&#x2f;&#x2f;…` in the mail's source).
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() {
                let raw = match value.as_str() {
                    Some(s) => s.to_owned(),
                    None if value.is_none() || value.is_undefined() => String::new(),
                    None => value.to_string(),
                };
                out.write_str(&escape_html(&raw)).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                })
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
        }
        Self { env }
    }

    /// Renders `<name>.txt` and `<name>.html` with the same values.
    pub fn render(&self, name: &str, values: impl Serialize) -> Result<Bodies, minijinja::Error> {
        let values = minijinja::Value::from_serialize(&values);
        let text = self
            .env
            .get_template(&format!("{name}.txt"))?
            .render(&values)?;
        let html = self
            .env
            .get_template(&format!("{name}.html"))?
            .render(&values)?;
        Ok(Bodies { text, html })
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn digest_values(content: &str, name: &str) -> serde_json::Value {
        json!({
            "recipient_name": "Lena",
            "total": 1,
            "app_url": "https://app.example",
            "senders": [{
                "name": name,
                "count": 1,
                "more": 0,
                "link": "https://app.example/?with=1",
                "messages": [{ "at": "14:02 UTC", "preview": content }],
            }],
        })
    }

    #[test]
    fn html_escapes_user_content_and_text_keeps_it() {
        let bodies = Templates::new()
            .render(
                "digest",
                digest_values("<script>alert(1)</script> & \"x\"", "Eve <eve@x>"),
            )
            .unwrap();
        assert!(!bodies.html.contains("<script>"), "{}", bodies.html);
        assert!(
            bodies
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp;")
        );
        assert!(bodies.html.contains("Eve &lt;eve@x&gt;"));
        assert!(bodies.text.contains("<script>alert(1)</script> & \"x\""));
        assert!(bodies.text.contains("You have an unread message:"));
    }

    #[test]
    fn a_missing_value_is_an_error() {
        let err = Templates::new()
            .render("digest", json!({ "recipient_name": "Lena" }))
            .err()
            .expect("strict undefined");
        assert!(err.to_string().contains("undefined"), "{err}");
    }

    #[test]
    fn every_template_renders() {
        let t = Templates::new();
        let consultation = json!({
            "recipient_name": "Ann",
            "other_name": "Lena Lawyer",
            "when": "Tuesday 8 December 2026, 14:00 UTC",
            "duration_minutes": 30,
            "meeting_link": "https://meet.jit.si/x",
            "google_calendar_url": "https://calendar.google.com/x",
            "outlook_calendar_url": "https://outlook.office.com/x",
            "consultation_url": "https://app.example/consultations/1",
            "app_url": "https://app.example",
            "reason": "ill",
        });
        for name in ["consultation_scheduled", "consultation_cancelled"] {
            let b = t.render(name, &consultation).unwrap();
            assert!(b.text.contains("Lena Lawyer") && b.html.contains("Lena Lawyer"));
        }
    }
}
