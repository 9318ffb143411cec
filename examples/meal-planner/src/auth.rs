//! Accounts and who may touch what: sign-in with the Argon2id hashes sign-up
//! stores, session tokens (random, kept only as SHA-256 hashes, expiring), the
//! [`Caller`] extractor every route but sign-up, sign-in and health takes, and
//! the checks that the caller belongs to the house (or wrote the recipe) a
//! request touches.

use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use lru::LruCache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::AppError;
use crate::extract::Json as Body;

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a validated session is trusted from memory before PostgreSQL is
/// asked again (so a session deleted elsewhere ends within this).
const CACHE_TTL: Duration = Duration::from_secs(60);

/// Sessions remembered in memory.
const CACHE_CAPACITY: usize = 16_384;

/// What a client without a valid session is told.
const SIGN_IN: &str = "sign in with POST /sessions {\"email\", \"password\"} (or sign up with \
                       POST /users), then send the token as `Authorization: Bearer <token>`";

/// The signed-in user a request comes from.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The user's id.
    pub user: i64,
    token_hash: [u8; 32],
}

/// Validated sessions by token hash, with when to check them again.
#[derive(Debug)]
pub struct SessionCache {
    entries: Mutex<LruCache<[u8; 32], (i64, Instant)>>,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHE_CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl SessionCache {
    fn get(&self, hash: &[u8; 32]) -> Option<i64> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(hash) {
            Some(&(user, until)) if Instant::now() < until => Some(user),
            Some(_) => {
                entries.pop(hash);
                None
            }
            None => None,
        }
    }

    fn put(&self, hash: [u8; 32], user: i64, valid_for: Duration) {
        let until = Instant::now() + valid_for.min(CACHE_TTL);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(hash, (user, until));
    }

    fn forget(&self, hash: &[u8; 32]) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop(hash);
    }

    fn forget_user(&self, user: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let stale: Vec<[u8; 32]> = entries
            .iter()
            .filter(|(_, (u, _))| *u == user)
            .map(|(h, _)| *h)
            .collect();
        for h in stale {
            entries.pop(&h);
        }
    }
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.get(..7)
                    .filter(|s| s.eq_ignore_ascii_case("bearer "))
                    .and(v.get(7..))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::Unauthorized(format!("no session: {SIGN_IN}")))?;
        let token_hash = hash_token(token);
        if let Some(user) = state.sessions().get(&token_hash) {
            return Ok(Caller { user, token_hash });
        }
        let db = state.db().await?;
        let row = db
            .query_opt(
                "SELECT user_id, EXTRACT(EPOCH FROM expires_at - now())::float8 FROM user_session
                 WHERE token_hash = $1 AND expires_at > now()",
                &[&token_hash.as_slice()],
            )
            .await?
            .ok_or_else(|| {
                AppError::Unauthorized(format!("the session is unknown or expired: {SIGN_IN}"))
            })?;
        let user: i64 = row.get(0);
        let left = Duration::try_from_secs_f64(row.get(1)).unwrap_or_default();
        state.sessions().put(token_hash, user, left);
        Ok(Caller { user, token_hash })
    }
}

impl Caller {
    /// Passes when the caller is a member (owner or resident) of `house`.
    pub async fn member_of(&self, db: &impl GenericClient, house: i64) -> Result<(), AppError> {
        match self.standing(db, house).await? {
            Some(OWNER | RESIDENT) => Ok(()),
            _ => Err(AppError::Forbidden(format!(
                "you are not a member of house {house}; ask its owner for an invitation"
            ))),
        }
    }

    /// Passes when the caller owns `house`.
    pub async fn owner_of(&self, db: &impl GenericClient, house: i64) -> Result<(), AppError> {
        match self.standing(db, house).await? {
            Some(OWNER) => Ok(()),
            _ => Err(AppError::Forbidden(format!(
                "only the owner of house {house} may do this"
            ))),
        }
    }

    /// Passes when the caller wrote `recipe`; a recipe that does not exist is a `404`.
    pub async fn author_of(&self, db: &impl GenericClient, recipe: i64) -> Result<(), AppError> {
        let row = db
            .query_opt(
                "SELECT EXISTS (SELECT 1 FROM user_recipe WHERE recipe_id = $1 AND user_id = $2)
                 FROM recipe WHERE id = $1",
                &[&recipe, &self.user],
            )
            .await?
            .ok_or_else(|| AppError::not_found("recipe", recipe))?;
        if row.get(0) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "only the author of recipe {recipe} may change it"
            )))
        }
    }

    /// Passes when `user` is the caller.
    pub fn is(&self, user: i64) -> Result<(), AppError> {
        if user == self.user {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this belongs to user {user}; you are signed in as user {}",
                self.user
            )))
        }
    }

    async fn standing(&self, db: &impl GenericClient, house: i64) -> Result<Option<i16>, AppError> {
        Ok(db
            .query_opt(
                "SELECT ownership FROM member_of WHERE house_id = $1 AND user_id = $2",
                &[&house, &self.user],
            )
            .await?
            .map(|r| r.get(0)))
    }
}

/// `ownership` ids (see the `ownership` lookup table).
const OWNER: i16 = 1;
const RESIDENT: i16 = 2;

/// A new session: the token to send as `Authorization: Bearer`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Session {
    /// The bearer token (shown once; the service keeps only its hash).
    pub token: String,
    /// The signed-in user.
    pub user: i64,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// The body of `POST /sessions`.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Starts a session for `user`; also drops the user's expired ones.
pub(crate) async fn open_session(db: &impl GenericClient, user: i64) -> Result<Session, AppError> {
    let token = crate::admin::random_token();
    let hash = hash_token(&token);
    let ttl = SESSION_TTL.as_secs_f64();
    db.execute(
        "DELETE FROM user_session WHERE user_id = $1 AND expires_at <= now()",
        &[&user],
    )
    .await?;
    db.execute(
        "INSERT INTO user_session (token_hash, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
        &[&hash.as_slice(), &user, &ttl],
    )
    .await?;
    Ok(Session {
        token,
        user,
        expires_in: SESSION_TTL.as_secs(),
    })
}

/// Forgets every cached session of `user` (the account is gone).
pub(crate) fn forget_user(state: &AppState, user: i64) {
    state.sessions().forget_user(user);
}

/// The session routes: sign in, sign out.
pub fn router() -> Router<AppState> {
    Router::new().route("/sessions", post(sign_in).delete(sign_out))
}

/// A hash to verify against when the e-mail is unknown, so that an unknown
/// address takes as long as a wrong password.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            Argon2::default()
                .hash_password(b"decoy password, never valid")
                .ok()
                .map(|h: PasswordHash| h.to_string())
        })
        .as_deref()
}

/// Signing in: the password is checked against the stored Argon2id hash on a
/// blocking thread, under admission control.
async fn sign_in(
    State(state): State<AppState>,
    Body(body): Body<Credentials>,
) -> Result<(StatusCode, Json<Session>), AppError> {
    let email = body.email.trim().to_lowercase();
    let found = {
        let db = state.db().await?;
        db.query_opt(
            "SELECT id, password_hash FROM user_info WHERE email = $1",
            &[&email],
        )
        .await?
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
    };
    let verified = {
        let _permit = state.admit().await?;
        let password = body.password;
        let stored = found.as_ref().map(|(_, h)| h.clone());
        tokio::task::spawn_blocking(move || {
            let verify = |stored: &str| {
                PasswordHash::new(stored).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            };
            match stored {
                Some(stored) => verify(&stored),
                None => {
                    decoy_hash().map(verify);
                    false
                }
            }
        })
        .await
        .map_err(|e| AppError::Internal(format!("the verifying task failed: {e}")))?
    };
    let (user, _) = found
        .filter(|_| verified)
        .ok_or_else(|| AppError::Unauthorized("wrong e-mail or password".into()))?;
    let db = state.db().await?;
    Ok((StatusCode::CREATED, Json(open_session(&*db, user).await?)))
}

/// Signing out: the session's token stops working at once.
async fn sign_out(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, AppError> {
    state.sessions().forget(&caller.token_hash);
    let db = state.db().await?;
    db.execute(
        "DELETE FROM user_session WHERE token_hash = $1",
        &[&caller.token_hash.as_slice()],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
