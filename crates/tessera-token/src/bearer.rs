//! The `Authorization` header as RFC 6750 and RFC 9449 read it, one way for Tessera and every
//! resource server: the scheme is case-insensitive, a header of another scheme (`Basic …`) is
//! no credential at all (API.md §2), and a `Bearer` or `DPoP` header without a usable token is
//! malformed.

/// What an `Authorization` header holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No header, or one of another scheme.
    Missing,
    /// A bearer token (not yet verified).
    Bearer(&'a str),
    /// A DPoP-bound token (not yet verified): good only with a proof (RFC 9449 §7).
    Dpop(&'a str),
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
/// assert_eq!(bearer_credential(Some(b"DPoP abc")), Credential::Dpop("abc"));
/// ```
pub fn bearer_credential(header: Option<&[u8]>) -> Credential<'_> {
    let Some(raw) = header else {
        return Credential::Missing;
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return Credential::Malformed;
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Credential::Missing;
    }
    match (token.trim(), dpop) {
        ("", _) => Credential::Malformed,
        (t, false) => Credential::Bearer(t),
        (t, true) => Credential::Dpop(t),
    }
}
