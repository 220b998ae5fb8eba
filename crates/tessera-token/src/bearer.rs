//! The `Authorization` header as RFC 6750 reads it, one way for Tessera and every resource
//! server: the scheme is case-insensitive, a header of another scheme (`Basic …`) is no
//! credential at all (API.md §2), and a `Bearer` header without a usable token is malformed.

/// What an `Authorization` header holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No header, or one of another scheme.
    Missing,
    /// A bearer token (not yet verified).
    Bearer(&'a str),
    /// A `Bearer` header with no token, or a header that is not text.
    Malformed,
}

/// Reads the value of an `Authorization` header (`None`: no header).
///
/// ```
/// use tessera_token::{Credential, bearer_credential};
/// assert_eq!(bearer_credential(Some(b"bearer abc")), Credential::Bearer("abc"));
/// assert_eq!(bearer_credential(Some(b"Basic dXNlcg==")), Credential::Missing);
/// assert_eq!(bearer_credential(Some(b"Bearer ")), Credential::Malformed);
/// ```
pub fn bearer_credential(header: Option<&[u8]>) -> Credential<'_> {
    let Some(raw) = header else {
        return Credential::Missing;
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return Credential::Malformed;
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credential::Missing;
    }
    match token.trim() {
        "" => Credential::Malformed,
        t => Credential::Bearer(t),
    }
}
