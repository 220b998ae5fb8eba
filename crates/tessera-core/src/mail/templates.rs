//! Mail templates: a subject, a plain-text and an HTML body per kind, with `{{variable}}`
//! placeholders. Built in, with the product's name; each part can be replaced by a file
//! (`<kind>.subject.txt`, `<kind>.txt`, `<kind>.html` in the templates folder). Values are
//! HTML-escaped in the HTML body.
use std::collections::HashMap;
use std::path::Path;

use super::{Message, kind};

/// The variables a template may use (anything else is left as written).
pub const VARIABLES: [&str; 7] = [
    "product",
    "email",
    "link",
    "expires_in",
    "support",
    "device",
    "ip",
];

#[derive(Clone, Debug)]
struct Parts {
    subject: String,
    text: String,
    html: String,
}

/// A template file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TemplateError {
    pub path: String,
    pub reason: String,
}

/// The templates of every kind of mail.
#[derive(Clone, Debug)]
pub struct Templates {
    product: String,
    parts: HashMap<&'static str, Parts>,
}

fn built_in(kind: &str) -> Parts {
    let (subject, lead, action, after) = match kind {
        kind::RESET => (
            "Reset your {{product}} password",
            "Someone asked to reset the password of the {{product}} account {{email}}.",
            "Choose a new password",
            "The link works once, for {{expires_in}}. If you did not ask, ignore this mail: your password stays as it is.",
        ),
        kind::VERIFY => (
            "Confirm your email for {{product}}",
            "Confirm that {{email}} is your address for {{product}}.",
            "Confirm my email",
            "The link works once, for {{expires_in}}.",
        ),
        kind::NEW_DEVICE => (
            "New sign-in to {{product}}",
            "The {{product}} account {{email}} was just signed in to from a device not seen before: {{device}}, at {{ip}}.",
            "",
            "If this was you, there is nothing to do. If not, change your password and sign out the devices you do not know.",
        ),
        _ => (
            "Your {{product}} password was changed",
            "The password of the {{product}} account {{email}} was just changed, and every device was signed out.",
            "",
            "If this was not you, reset your password at once and contact {{support}}.",
        ),
    };
    let text = if action.is_empty() {
        format!("{lead}\n\n{after}\n")
    } else {
        format!("{lead}\n\n{action}: {{{{link}}}}\n\n{after}\n")
    };
    let button = if action.is_empty() {
        String::new()
    } else {
        format!("<p><a href=\"{{{{link}}}}\">{action}</a></p>\n")
    };
    let html = format!(
        "<!doctype html>\n<html><body style=\"font-family:sans-serif\">\n<p>{lead}</p>\n{button}<p>{after}</p>\n</body></html>\n"
    );
    Parts {
        subject: subject.into(),
        text,
        html,
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Replaces each `{{name}}` of `template` by its value, in one pass over the template: a value
/// is never read again, so a value that holds `{{ip}}` (a user agent, say) stays as written.
/// Unknown names are left as written.
fn fill(template: &str, vars: &[(&str, &str)], html: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find("}}").and_then(|end| {
            let name = &after[..end];
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, end))
        });
        match value {
            Some((v, end)) => {
                if html {
                    out.push_str(&escape_html(v));
                } else {
                    out.push_str(v);
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Templates {
    /// The built-in templates, naming `product`.
    pub fn built_in(product: &str) -> Self {
        Templates {
            product: product.to_owned(),
            parts: kind::ALL.iter().map(|k| (*k, built_in(k))).collect(),
        }
    }

    /// The built-in templates with any part found in `dir` instead.
    pub fn load(product: &str, dir: &Path) -> Result<Self, TemplateError> {
        let mut t = Self::built_in(product);
        for k in kind::ALL {
            let parts = t.parts.get_mut(k).expect("every kind is built in");
            for (file, part) in [
                (format!("{k}.subject.txt"), &mut parts.subject),
                (format!("{k}.txt"), &mut parts.text),
                (format!("{k}.html"), &mut parts.html),
            ] {
                let path = dir.join(&file);
                match std::fs::read_to_string(&path) {
                    Ok(s) => {
                        *part = s.trim_end_matches('\n').to_owned()
                            + if file.ends_with("subject.txt") {
                                ""
                            } else {
                                "\n"
                            }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(TemplateError {
                            path: path.display().to_string(),
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        Ok(t)
    }

    /// The mail of `kind` to `to`, with `link` (empty for a notice) valid for `ttl_ms`.
    pub fn render(&self, kind: &str, to: &str, link: &str, ttl_ms: i64) -> Message {
        self.render_with(kind, to, link, ttl_ms, "", "")
    }

    /// [`Templates::render`], with the `device` and `ip` of a notice.
    pub fn render_with(
        &self,
        kind: &str,
        to: &str,
        link: &str,
        ttl_ms: i64,
        device: &str,
        ip: &str,
    ) -> Message {
        let parts = &self.parts[kind];
        let expires = humanize(ttl_ms);
        let vars = [
            ("product", self.product.as_str()),
            ("email", to),
            ("link", link),
            ("expires_in", expires.as_str()),
            ("support", "your administrator"),
            ("device", device),
            ("ip", ip),
        ];
        Message {
            to: to.to_owned(),
            // A subject is one line, whatever a template or a value holds.
            subject: fill(&parts.subject, &vars, false).replace(['\r', '\n'], " "),
            text: fill(&parts.text, &vars, false),
            html: fill(&parts.html, &vars, true),
        }
    }
}

fn humanize(ms: i64) -> String {
    let mins = ms / 60_000;
    match mins {
        m if m >= 120 && m % 60 == 0 => format!("{} hours", m / 60),
        60 => "1 hour".into(),
        1 => "1 minute".into(),
        m => format!("{m} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_values_are_filled_and_escaped_in_html() {
        let t = Templates::built_in("Acme <Notes>");
        let m = t.render(
            kind::RESET,
            "a@b.c",
            "https://x.test/#reset_token=abc",
            3_600_000,
        );
        assert_eq!(m.subject, "Reset your Acme <Notes> password");
        assert!(m.text.contains("https://x.test/#reset_token=abc"));
        assert!(m.text.contains("for 1 hour"));
        assert!(m.html.contains("Acme &lt;Notes&gt;") && !m.html.contains("<Notes>"));
        assert!(m.html.contains("href=\"https://x.test/#reset_token=abc\""));
        let notice = t.render(kind::PASSWORD_CHANGED, "a@b.c", "", 0);
        assert!(!notice.text.contains("{{") && !notice.html.contains("href"));
        assert_eq!(humanize(86_400_000), "24 hours");
    }

    #[test]
    fn the_built_in_templates_use_only_the_documented_variables() {
        for k in kind::ALL {
            let p = built_in(k);
            for part in [&p.subject, &p.text, &p.html] {
                for (i, _) in part.match_indices("{{") {
                    let name = &part[i + 2..i + 2 + part[i + 2..].find("}}").unwrap()];
                    assert!(VARIABLES.contains(&name), "{k}: {{{{{name}}}}}");
                }
            }
        }
    }

    #[test]
    fn substituted_values_are_never_expanded_again() {
        let t = Templates::built_in("Notes");
        let ua = "Evil {{ip}} {{link}} {{email}} {{product}}";
        let m = t.render_with(kind::NEW_DEVICE, "a@b.c", "", 0, ua, "203.0.113.9");
        for part in [&m.text, &m.html] {
            assert!(
                part.contains("Evil {{ip}} {{link}} {{email}} {{product}}"),
                "{part}"
            );
            assert_eq!(part.matches("203.0.113.9").count(), 1, "{part}");
        }
        // A placeholder of no known name, and a lone "{{", stay as written.
        assert_eq!(
            fill("a {{nope}} {{ b {{ip}}", &[("ip", "1")], false),
            "a {{nope}} {{ b 1"
        );
    }

    #[test]
    fn files_replace_parts_and_subjects_stay_one_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("verify.subject.txt"),
            "Hi\r\nBcc: x@evil.test {{product}}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("verify.txt"), "Go to {{link}} now").unwrap();
        let t = Templates::load("Notes", dir.path()).unwrap();
        let m = t.render(kind::VERIFY, "a@b.c", "L", 60_000);
        assert_eq!(m.subject, "Hi  Bcc: x@evil.test Notes");
        assert_eq!(m.text, "Go to L now\n");
        assert!(
            m.html.contains("Confirm my email"),
            "the built-in HTML stays"
        );
    }
}
