//! The store traits in SQL for the databases sqlx speaks here (PostgreSQL). The SQLite store
//! (`sqlite/store.rs`) runs the same statements through rusqlite; see its module docs for why.
//!
//! The statements use `$N` placeholders and constructs SQLite and PostgreSQL both accept
//! (`IS DISTINCT FROM`, `CASE`, `RETURNING`, partial unique indexes), so the SQL is not
//! duplicated per dialect. One exception: `rotate_session`, the hot write of every refresh, is a
//! PostgreSQL data-modifying CTE (UPDATE and event INSERT in one statement), which SQLite lacks;
//! the SQLite store does the same in one transaction on its writer thread, where round trips cost
//! nothing. `sql_store!` instantiates the trait impls for one backend; the backend
//! module provides `pool` (reads), `writes()` (single write statements), `begin()` (its way of
//! starting a read-modify-write transaction) and `after_revocation()` (a hook inside the transaction, used by PostgreSQL to NOTIFY).

macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty) => {
        mod sql_impl {
        use super::$store;
        use async_trait::async_trait;
        use sqlx::Row as _;
        use tessera_core::model::{
            BulkSelector, Event, KeyRecord, KeyState, Revocation, RevocationTarget, Role, Rotation,
            Session, SessionSelector, User,
        };
        use tessera_core::store::*;
        use uuid::Uuid;

        use $crate::codec::{opt_uuid, revocation_columns, revocation_target, roles_from_json, roles_to_json, uuid};
        use $crate::map_err;

        const SESSION_COLUMNS: &str = "id, user_id, namespace, created_at, last_active_at, expires_at, absolute_expires_at, ip, user_agent, refresh_count, generation, secret_hash, prev_secret_hash, rotated_at, revoked_at, revoke_reason";

        fn get<'r, T: sqlx::Decode<'r, $db> + sqlx::Type<$db>>(row: &'r $row, col: &str) -> StoreResult<T> {
            row.try_get(col).map_err(map_err)
        }

        fn user_from(row: &$row) -> StoreResult<User> {
            Ok(User {
                id: uuid(&get::<String>(row, "id")?)?,
                email: get(row, "email")?,
                password_hash: get(row, "password_hash")?,
                roles: roles_from_json(&get::<String>(row, "roles")?)?,
                banned: get(row, "banned")?,
                created_at: get(row, "created_at")?,
                password_changed_at: get(row, "password_changed_at")?,
            })
        }

        fn session_from(row: &$row) -> StoreResult<Session> {
            Ok(Session {
                id: uuid(&get::<String>(row, "id")?)?,
                user_id: uuid(&get::<String>(row, "user_id")?)?,
                namespace: get(row, "namespace")?,
                created_at: get(row, "created_at")?,
                last_active_at: get(row, "last_active_at")?,
                expires_at: get(row, "expires_at")?,
                absolute_expires_at: get(row, "absolute_expires_at")?,
                ip: get(row, "ip")?,
                user_agent: get(row, "user_agent")?,
                refresh_count: get(row, "refresh_count")?,
                generation: get(row, "generation")?,
                secret_hash: get(row, "secret_hash")?,
                prev_secret_hash: get(row, "prev_secret_hash")?,
                rotated_at: get(row, "rotated_at")?,
                revoked_at: get(row, "revoked_at")?,
                revoke_reason: get(row, "revoke_reason")?,
            })
        }

        fn event_from(row: &$row) -> StoreResult<Event> {
            Ok(Event {
                id: uuid(&get::<String>(row, "id")?)?,
                kind: get(row, "type")?,
                at: get(row, "at")?,
                user_id: opt_uuid(get(row, "user_id")?)?,
                session_id: opt_uuid(get(row, "session_id")?)?,
                ip: get(row, "ip")?,
                user_agent: get(row, "user_agent")?,
                detail: serde_json::from_str(&get::<String>(row, "detail")?)
                    .map_err(|_| StoreError::Corrupt("bad event detail".into()))?,
            })
        }

        /// Binds an event's eight columns, in `events` column order, after what `q` has bound.
        fn bind_event<'q>(
            q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
            e: &Event,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
            q.bind(e.id.to_string())
                .bind(&e.kind)
                .bind(e.at)
                .bind(e.user_id.map(|u| u.to_string()))
                .bind(e.session_id.map(|u| u.to_string()))
                .bind(&e.ip)
                .bind(&e.user_agent)
                .bind(e.detail.to_string())
        }

        async fn insert_event(tx: &mut sqlx::Transaction<'static, $db>, e: &Event) -> StoreResult<()> {
            bind_event(sqlx::query("INSERT INTO events (id, type, at, user_id, session_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"), e)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
            Ok(())
        }

        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, u: &User, event: &Event) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                sqlx::query("INSERT INTO users (id, email, password_hash, roles, banned, created_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(u.id.to_string())
                    .bind(&u.email)
                    .bind(&u.password_hash)
                    .bind(roles_to_json(&u.roles))
                    .bind(u.banned)
                    .bind(u.created_at)
                    .bind(u.password_changed_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                insert_event(&mut tx, event).await?;
                tx.commit().await.map_err(map_err)
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                sqlx::query("SELECT * FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .as_ref()
                    .map(user_from)
                    .transpose()
            }

            async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
                sqlx::query("SELECT * FROM users WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .as_ref()
                    .map(user_from)
                    .transpose()
            }

            async fn set_password_hash(&self, id: Uuid, hash: &str, changed_at: Option<i64>, event: Option<&Event>) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let done = sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = COALESCE($2, password_changed_at) WHERE id = $3")
                    .bind(hash)
                    .bind(changed_at)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected()
                    == 1;
                if let (true, Some(e)) = (done, event) {
                    insert_event(&mut tx, e).await?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(done)
            }

            async fn users(&self, limit: i64) -> StoreResult<Vec<User>> {
                sqlx::query("SELECT * FROM users ORDER BY created_at DESC, id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .iter()
                    .map(user_from)
                    .collect()
            }

            async fn delete_user(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected()
                    == 1;
                if !deleted {
                    return Ok(false);
                }
                // Sessions go with the user (ON DELETE CASCADE); verifiers learn from one cutoff.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let target = RevocationTarget::User { user_id: id };
                insert_revocation(self, &mut tx, &target, at).await?;
                insert_event(&mut tx, event).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            async fn set_user_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE users SET roles = $1 WHERE id = $2")
                    .bind(roles_to_json(roles))
                    .bind(id.to_string())
                    .execute(self.writes())
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(done == 1)
            }

            async fn set_banned(&self, id: Uuid, banned: bool, event: &Event) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let done = sqlx::query("UPDATE users SET banned = $1 WHERE id = $2")
                    .bind(banned)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected()
                    == 1;
                if done {
                    insert_event(&mut tx, event).await?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(done)
            }
        }

        #[async_trait]
        impl RoleStore for $store {
            async fn roles(&self) -> StoreResult<Vec<Role>> {
                sqlx::query("SELECT name, permissions FROM roles ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .iter()
                    .map(|row| {
                        Ok(Role {
                            name: get(row, "name")?,
                            permissions: roles_from_json(&get::<String>(row, "permissions")?)?,
                        })
                    })
                    .collect()
            }

            async fn put_role(&self, role: &Role) -> StoreResult<()> {
                sqlx::query("INSERT INTO roles (name, permissions) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions")
                    .bind(&role.name)
                    .bind(roles_to_json(&role.permissions))
                    .execute(self.writes())
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn delete_role(&self, name: &str) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let deleted = sqlx::query("DELETE FROM roles WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected()
                    == 1;
                if !deleted {
                    return Ok(false);
                }
                // Roles are a JSON array per user; rewrite the users that carry this one.
                let quoted = serde_json::to_string(name).expect("a string serializes");
                let holders = sqlx::query("SELECT id, roles FROM users WHERE roles LIKE '%' || $1 || '%'")
                    .bind(&quoted)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                for row in &holders {
                    let id: String = get(row, "id")?;
                    let mut roles = roles_from_json(&get::<String>(row, "roles")?)?;
                    roles.retain(|r| r != name);
                    sqlx::query("UPDATE users SET roles = $1 WHERE id = $2")
                        .bind(roles_to_json(&roles))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, s: &Session, event: &Event) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")))
                    .bind(s.id.to_string())
                    .bind(s.user_id.to_string())
                    .bind(&s.namespace)
                    .bind(s.created_at)
                    .bind(s.last_active_at)
                    .bind(s.expires_at)
                    .bind(s.absolute_expires_at)
                    .bind(&s.ip)
                    .bind(&s.user_agent)
                    .bind(s.refresh_count)
                    .bind(s.generation)
                    .bind(&s.secret_hash)
                    .bind(&s.prev_secret_hash)
                    .bind(s.rotated_at)
                    .bind(s.revoked_at)
                    .bind(&s.revoke_reason)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                insert_event(&mut tx, event).await?;
                tx.commit().await.map_err(map_err)
            }

            async fn session(&self, id: Uuid) -> StoreResult<Option<Session>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1")))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .as_ref()
                    .map(session_from)
                    .transpose()
            }

            async fn rotate_session(&self, id: Uuid, from_generation: i64, r: &Rotation, event: &Event) -> StoreResult<bool> {
                // The one conditional write: whoever loses re-reads; a revocation makes it fail.
                // The event is written by the same statement, only for the row it updated: one
                // round trip, atomic without BEGIN and COMMIT (three more on the hot path).
                let update = sqlx::query("WITH won AS (UPDATE sessions SET generation = $1, secret_hash = $2, prev_secret_hash = $3, rotated_at = $4, last_active_at = $4, expires_at = $5, refresh_count = $6 WHERE id = $7 AND generation = $8 AND revoked_at IS NULL RETURNING id) \
                    INSERT INTO events (id, type, at, user_id, session_id, ip, user_agent, detail) SELECT $9, $10, $11, $12, $13, $14, $15, $16 FROM won")
                    .bind(r.generation)
                    .bind(&r.secret_hash)
                    .bind(&r.prev_secret_hash)
                    .bind(r.rotated_at)
                    .bind(r.expires_at)
                    .bind(r.refresh_count)
                    .bind(id.to_string())
                    .bind(from_generation);
                let inserted = bind_event(update, event)
                    .execute(self.writes())
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(inserted == 1)
            }

            async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE sessions SET last_active_at = CASE WHEN last_active_at < $1 THEN $1 ELSE last_active_at END WHERE id = $2 AND generation = $3 AND revoked_at IS NULL")
                    .bind(at)
                    .bind(id.to_string())
                    .bind(generation)
                    .execute(self.writes())
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(done == 1)
            }

            async fn revoke_sessions(&self, selector: &SessionSelector, at: i64, reason: &str, event: &Event) -> StoreResult<Vec<Uuid>> {
                let mut tx = self.begin().await?;
                // One statement marks and returns exactly the sessions this call revoked, so two
                // concurrent revocations never both record the same session.
                let rows = match selector {
                    SessionSelector::One(id) => sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL RETURNING id, user_id")
                        .bind(at)
                        .bind(reason)
                        .bind(id.to_string())
                        .fetch_all(&mut *tx)
                        .await,
                    SessionSelector::User { user_id, except } => sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL AND id IS DISTINCT FROM $4 RETURNING id, user_id")
                        .bind(at)
                        .bind(reason)
                        .bind(user_id.to_string())
                        .bind(except.map(|e| e.to_string()))
                        .fetch_all(&mut *tx)
                        .await,
                }
                .map_err(map_err)?;
                let mut ids = Vec::with_capacity(rows.len());
                for row in &rows {
                    let id: String = get(row, "id")?;
                    let user_id = uuid(&get::<String>(row, "user_id")?)?;
                    let id = uuid(&id)?;
                    let target = RevocationTarget::Session { session_id: id };
                    insert_revocation(self, &mut tx, &target, at).await?;
                    let e = Event {
                        id: tessera_core::model::new_id(),
                        session_id: Some(id),
                        user_id: event.user_id.or(Some(user_id)),
                        detail: serde_json::json!({"reason": reason}),
                        ..event.clone()
                    };
                    insert_event(&mut tx, &e).await?;
                    ids.push(id);
                }
                tx.commit().await.map_err(map_err)?;
                ids.sort();
                Ok(ids)
            }

            async fn revoke_bulk(&self, selector: &BulkSelector, at: i64, reason: &str, event: &Event) -> StoreResult<u64> {
                let mut tx = self.begin().await?;
                let update = match selector {
                    BulkSelector::Namespace(ns) => sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE revoked_at IS NULL AND namespace = $3")
                        .bind(at)
                        .bind(reason)
                        .bind(ns.clone()),
                    BulkSelector::User { user_id, namespace } => sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE revoked_at IS NULL AND user_id = $3 AND ($4 IS NULL OR namespace = $4)")
                        .bind(at)
                        .bind(reason)
                        .bind(user_id.to_string())
                        .bind(namespace.clone()),
                    BulkSelector::All => sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE revoked_at IS NULL")
                        .bind(at)
                        .bind(reason),
                };
                let n = update.execute(&mut *tx).await.map_err(map_err)?.rows_affected();
                insert_revocation(self, &mut tx, &selector.target(), at).await?;
                let e = Event { detail: serde_json::json!({"reason": reason, "revoked": n}), ..event.clone() };
                insert_event(&mut tx, &e).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(n)
            }

            async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY last_active_at DESC, id DESC"
                )))
                .bind(user_id.to_string())
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?
                .iter()
                .map(session_from)
                .collect()
            }
        }

        #[async_trait]
        impl RevocationStore for $store {
            async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
                let mut tx = self.begin().await?;
                let seq = insert_revocation(self, &mut tx, target, at).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(seq)
            }

            async fn revocations(&self, after_seq: i64, min_at: i64, limit: i64) -> StoreResult<Vec<Revocation>> {
                sqlx::query("SELECT seq, kind, target, at FROM revocations WHERE seq > $1 AND at >= $2 ORDER BY seq LIMIT $3")
                    .bind(after_seq)
                    .bind(min_at)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .iter()
                    .map(|row| {
                        Ok(Revocation {
                            seq: get(row, "seq")?,
                            target: revocation_target(&get::<String>(row, "kind")?, get(row, "target")?)?,
                            at: get(row, "at")?,
                        })
                    })
                    .collect()
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
                sqlx::query("SELECT kid, alg, state, created_at, activated_at, retired_at, private_sealed FROM signing_keys")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .iter()
                    .map(|row| {
                        Ok(KeyRecord {
                            kid: get(row, "kid")?,
                            alg: get(row, "alg")?,
                            state: KeyState::parse(&get::<String>(row, "state")?)
                                .ok_or_else(|| StoreError::Corrupt("bad key state".into()))?,
                            created_at: get(row, "created_at")?,
                            activated_at: get(row, "activated_at")?,
                            retired_at: get(row, "retired_at")?,
                            private_sealed: get(row, "private_sealed")?,
                        })
                    })
                    .collect()
            }

            async fn init_keys(&self, alg: &str, keys: &[KeyRecord]) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let existing = sqlx::query("SELECT kid FROM signing_keys WHERE alg = $1 AND state = 'current'")
                    .bind(alg)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                if existing.is_some() {
                    return Ok(false);
                }
                for k in keys {
                    let inserted = insert_key(&mut tx, k).await;
                    // The partial unique index allows one `current` key per algorithm: a node
                    // that lost the race to initialise simply uses the winner's keys.
                    match inserted {
                        Ok(_) => {}
                        Err(StoreError::Conflict) => return Ok(false),
                        Err(e) => return Err(e),
                    }
                }
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            async fn rotate_keys(&self, expected_current: &str, new_next: &KeyRecord, at: i64, event: &Event) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                // Each step is conditional on the state it expects, so of two concurrent
                // rotations the second finds nothing to change and rolls back.
                let retired = sqlx::query("UPDATE signing_keys SET state = 'retiring', retired_at = $1 WHERE kid = $2 AND alg = $3 AND state = 'current'")
                    .bind(at)
                    .bind(expected_current)
                    .bind(&new_next.alg)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                if retired != 1 {
                    return Ok(false);
                }
                let promoted = sqlx::query("UPDATE signing_keys SET state = 'current', activated_at = $1 WHERE alg = $2 AND state = 'next'")
                    .bind(at)
                    .bind(&new_next.alg)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                if promoted != 1 {
                    return Ok(false);
                }
                insert_key(&mut tx, new_next).await?;
                insert_event(&mut tx, event).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }
        }

        /// Adds a record to the revocation feed inside `tx`, and lets the backend announce it.
        async fn insert_revocation(store: &$store, tx: &mut sqlx::Transaction<'static, $db>, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
            let (kind, column) = revocation_columns(target);
            let seq: i64 = sqlx::query("INSERT INTO revocations (kind, target, at) VALUES ($1, $2, $3) RETURNING seq")
                .bind(kind)
                .bind(column)
                .bind(at)
                .fetch_one(&mut **tx)
                .await
                .map_err(map_err)?
                .try_get("seq")
                .map_err(map_err)?;
            let revocation = Revocation { seq, target: target.clone(), at };
            store.after_revocation(tx, &revocation).await?;
            Ok(seq)
        }

        async fn insert_key(tx: &mut sqlx::Transaction<'static, $db>, k: &KeyRecord) -> StoreResult<()> {
            sqlx::query("INSERT INTO signing_keys (kid, alg, state, created_at, activated_at, retired_at, private_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(k.state.as_str())
                .bind(k.created_at)
                .bind(k.activated_at)
                .bind(k.retired_at)
                .bind(&k.private_sealed)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
            Ok(())
        }

        #[async_trait]
        impl EventStore for $store {
            async fn record_event(&self, event: &Event) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                insert_event(&mut tx, event).await?;
                tx.commit().await.map_err(map_err)
            }

            async fn events(&self, user_id: Option<Uuid>, kind: Option<&str>, limit: i64) -> StoreResult<Vec<Event>> {
                sqlx::query("SELECT * FROM events WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR type = $2) ORDER BY at DESC, id DESC LIMIT $3")
                    .bind(user_id.map(|u| u.to_string()))
                    .bind(kind)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .iter()
                    .map(event_from)
                    .collect()
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }
        }
        }
    };
}

pub(crate) use sql_store;
