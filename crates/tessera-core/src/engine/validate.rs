//! Input rules for emails and namespaces.
use crate::error::Error;

/// Trims and lower-cases an email and checks its shape: one `@`, a local part of 1–64
/// characters, a dotted domain, 254 characters at most, no spaces or control characters.
/// The local part is a dot-atom (RFC 5322 §3.2.3: letters, digits and ``!#$%&'*+/=?^_`{|}~-``,
/// dots only between them): no quoted strings, commas, brackets, parentheses or colons, which
/// a mailer would read as a display name, a comment, a second address or a header, so an
/// address either reaches the one mailbox it names or is refused here.
pub fn normalize_email(raw: &str) -> Result<String, Error> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::InvalidEmail("email is empty"));
    }
    if email.chars().count() > 254 {
        return Err(Error::InvalidEmail("email is longer than 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidEmail(
            "email contains spaces or control characters",
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(Error::InvalidEmail("email has no @"));
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let dot_atom = local
        .split('.')
        .all(|a| !a.is_empty() && a.chars().all(atext));
    if local.chars().count() > 64 || domain.contains('@') || !dot_atom {
        return Err(Error::InvalidEmail("email local part is invalid"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(Error::InvalidEmail("email domain is invalid"));
    }
    Ok(email)
}

/// 1 to 64 characters of `[A-Za-z0-9_.-]`.
pub fn check_namespace(ns: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&ns.len())
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then_some(()).ok_or(Error::InvalidNamespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@c.d",
            "a@b@c.d",
            "a@-b.c",
            "a@b..c",
            "a\u{0}@b.c",
            &format!("{}@b.c", "a".repeat(65)),
            // What a mailer would read as more than one plain address (issue 27).
            "a,b@example.com",
            "a<b@example.com",
            "a<b@example.com>",
            "a(b)@example.com",
            "\"q\"@example.com",
            "bcc:x@example.com",
            "a;b@example.com",
            "a\\b@example.com",
            "[a]@example.com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        for ok in [
            "o'neil+tag@example.com",
            "a.b-c_d@sub.example.co.uk",
            "x!#$%&*/=?^`{|}~@example.com",
        ] {
            assert_eq!(normalize_email(ok).unwrap(), ok);
        }
    }

    #[test]
    fn namespaces_follow_the_pattern() {
        for ok in ["default", "a", "tenant-1.prod_eu", &"x".repeat(64)] {
            assert!(check_namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "slash/", "ünï", &"x".repeat(65), "a:b"] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
    }
}
