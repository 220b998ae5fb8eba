//! Conversions between model values and their column forms, shared by every SQL backend.
use tessera_core::model::RevocationTarget;
use tessera_core::store::StoreError;
use uuid::Uuid;

pub(crate) fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt("bad uuid".into()))
}

pub(crate) fn opt_uuid(s: Option<String>) -> Result<Option<Uuid>, StoreError> {
    s.as_deref().map(uuid).transpose()
}

pub(crate) fn roles_to_json(roles: &[String]) -> String {
    serde_json::to_string(roles).expect("strings serialize")
}

pub(crate) fn roles_from_json(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("bad roles".into()))
}

pub(crate) fn claims_to_json(claims: &tessera_core::model::Claims) -> String {
    serde_json::to_string(claims).expect("JSON values serialize")
}

pub(crate) fn claims_from_json(s: &str) -> Result<tessera_core::model::Claims, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("bad claims".into()))
}

/// `(kind, target)` columns of a revocation record.
pub(crate) fn revocation_columns(t: &RevocationTarget) -> (&'static str, Option<String>) {
    match t {
        RevocationTarget::Session { session_id } => ("session", Some(session_id.to_string())),
        RevocationTarget::User { user_id } => ("user", Some(user_id.to_string())),
        // Namespaces cannot contain `|`, so the pair splits back unambiguously.
        RevocationTarget::UserNamespace { user_id, namespace } => {
            ("user_ns", Some(format!("{user_id}|{namespace}")))
        }
        RevocationTarget::Namespace { namespace } => ("namespace", Some(namespace.clone())),
        RevocationTarget::All => ("all", None),
    }
}

pub(crate) fn revocation_target(
    kind: &str,
    target: Option<String>,
) -> Result<RevocationTarget, StoreError> {
    let corrupt = || StoreError::Corrupt("bad revocation row".into());
    Ok(match (kind, target) {
        ("session", Some(t)) => RevocationTarget::Session {
            session_id: uuid(&t)?,
        },
        ("user", Some(t)) => RevocationTarget::User { user_id: uuid(&t)? },
        ("user_ns", Some(t)) => {
            let (user, namespace) = t.split_once('|').ok_or_else(corrupt)?;
            RevocationTarget::UserNamespace {
                user_id: uuid(user)?,
                namespace: namespace.to_owned(),
            }
        }
        ("namespace", Some(t)) => RevocationTarget::Namespace { namespace: t },
        ("all", _) => RevocationTarget::All,
        _ => return Err(corrupt()),
    })
}
