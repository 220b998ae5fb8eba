//! The app's claims in a token (API.md §8): the user's claims with the session's over them,
//! carried as `ext`, at most 4 KiB of JSON. One rule for the engine and every store, which
//! checks it again in the transaction that writes either side.
use crate::model::Claims;

/// The most JSON the app's claims may take in a token, serialized.
pub const MAX_CLAIMS_BYTES: usize = 4096;

/// The token's `ext`: the user's claims with the session's over them, or nothing when both are
/// empty. Nested under `ext`, they can never change a registered claim.
pub fn ext(user: &Claims, session: &Claims) -> Option<Claims> {
    if user.is_empty() && session.is_empty() {
        return None;
    }
    let mut merged = user.clone();
    merged.extend(session.iter().map(|(k, v)| (k.clone(), v.clone())));
    Some(merged)
}

/// Whether `claims` alone fit in a token.
pub fn fits(claims: &Claims) -> bool {
    serde_json::to_vec(claims).is_ok_and(|v| v.len() <= MAX_CLAIMS_BYTES)
}

/// Whether a session's claims merged over its user's fit in a token's `ext`. The stores check
/// it in the transaction that writes either side (with the user's row locked), so a claims
/// change racing a new session can never let both through.
pub fn claims_fit(user: &Claims, session: &Claims) -> bool {
    ext(user, session).is_none_or(|merged| fits(&merged))
}
