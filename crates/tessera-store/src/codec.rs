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

/// `(kind, target)` columns of a revocation record. The kind is spelled as on the wire
/// (`tessera_revocation::kind`).
pub(crate) fn revocation_columns(t: &RevocationTarget) -> (&'static str, Option<String>) {
    let target = match t {
        RevocationTarget::Session { session_id } => Some(session_id.to_string()),
        RevocationTarget::User { user_id } => Some(user_id.to_string()),
        // Namespaces cannot contain `|`, so the pair splits back unambiguously.
        RevocationTarget::UserNamespace { user_id, namespace } => {
            Some(format!("{user_id}|{namespace}"))
        }
        RevocationTarget::Namespace { namespace } => Some(namespace.clone()),
        RevocationTarget::All => None,
    };
    (t.kind(), target)
}

/// Versions before 0.2 stored `user_namespace` as `user_ns`; migration 0004 renames the rows,
/// and this reads a row such a node writes during a rolling upgrade.
const LEGACY_USER_NAMESPACE: &str = "user_ns";

pub(crate) fn revocation_target(
    kind: &str,
    target: Option<String>,
) -> Result<RevocationTarget, StoreError> {
    use tessera_revocation::kind as K;
    let corrupt = || StoreError::Corrupt("bad revocation row".into());
    Ok(match (kind, target) {
        (K::SESSION, Some(t)) => RevocationTarget::Session {
            session_id: uuid(&t)?,
        },
        (K::USER, Some(t)) => RevocationTarget::User { user_id: uuid(&t)? },
        (K::USER_NAMESPACE | LEGACY_USER_NAMESPACE, Some(t)) => {
            let (user, namespace) = t.split_once('|').ok_or_else(corrupt)?;
            RevocationTarget::UserNamespace {
                user_id: uuid(user)?,
                namespace: namespace.to_owned(),
            }
        }
        (K::NAMESPACE, Some(t)) => RevocationTarget::Namespace { namespace: t },
        (K::ALL, _) => RevocationTarget::All,
        _ => return Err(corrupt()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_kinds_are_stored_as_on_the_wire_and_the_old_spelling_still_reads() {
        let user_id = Uuid::now_v7();
        let t = RevocationTarget::UserNamespace {
            user_id,
            namespace: "web".into(),
        };
        let (kind, target) = revocation_columns(&t);
        assert_eq!(kind, "user_namespace");
        assert_eq!(revocation_target(kind, target.clone()).unwrap(), t);
        assert_eq!(revocation_target("user_ns", target).unwrap(), t);
        assert!(revocation_target("galaxy", None).is_err());
    }
}
