//! A fresh database per test, the app over it, and request helpers. Requests
//! go as the user signed up (or switched to with `act_as`) last.

// Test support: each test uses part of it, and a failed setup is a failed test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use finch::postgres::SessionSettings;
use meal_planner::db::{self, DbSettings};
use meal_planner::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The app over its own database, dropped with it.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// Session tokens by user id.
    tokens: Mutex<HashMap<i64, String>>,
    /// Whose session requests carry (`None`: anonymous).
    acting: Mutex<Option<i64>>,
    _database: DropDatabase,
}

impl TestApp {
    /// Creates a uniquely named database and migrates it. Panics (the test fails)
    /// when PostgreSQL is unreachable.
    pub async fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "mp_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos % 1_000_000
        );
        let settings = DbSettings::from_env(&name).unwrap();
        // Armed before connecting: a database created but not migrated is
        // dropped too.
        let database = DropDatabase(name);
        let pool = db::connect(&settings, 4, &SessionSettings::new())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable (set DATABASE_URL): {e:?}"));
        let state = AppState::new(pool);
        TestApp {
            router: app(state.clone()),
            state,
            tokens: Mutex::new(HashMap::new()),
            acting: Mutex::new(None),
            _database: database,
        }
    }

    /// Later requests go with `user`'s session (`None`: anonymously).
    pub fn act_as(&self, user: Option<i64>) {
        *self.acting.lock().unwrap() = user;
    }

    /// The session token of `user`.
    pub fn token(&self, user: i64) -> String {
        self.tokens.lock().unwrap()[&user].clone()
    }

    /// Sends a request with a raw body, as the acting user.
    pub async fn raw(&self, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let acting = *self.acting.lock().unwrap();
        let token = acting.map(|u| self.token(u));
        self.raw_with(token.as_deref(), method, path, body).await
    }

    /// Sends a request with a raw body and `token` as its bearer, if any.
    pub async fn raw_with(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: the body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        if !status.is_success() {
            assert!(
                value.get("error").and_then(Value::as_str).is_some(),
                "{path}: a failure needs a JSON error body, got {value}"
            );
        }
        (status, value)
    }

    /// Sends a request with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(method, path, &text).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// A count of rows, straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        let client = self.state.pool().get().await.unwrap();
        let sql = format!("SELECT count(*) FROM {table}");
        client.query_one(&sql, &[]).await.unwrap().get(0)
    }

    /// Signs `cook{n}@example.com` up; later requests go as them.
    pub async fn sign_up(&self, n: u32) -> i64 {
        let (status, body) = self
            .call(
                Method::POST,
                "/users",
                Some(json!({"name": format!("cook {n}"), "email": format!("cook{n}@example.com"), "password": "correct horse"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_i64().unwrap();
        let token = body["token"].as_str().unwrap().to_string();
        self.tokens.lock().unwrap().insert(id, token);
        self.act_as(Some(id));
        id
    }

    /// A house `owner` creates (later requests go as them).
    pub async fn house(&self, owner: i64) -> i64 {
        self.act_as(Some(owner));
        let (status, body) = self
            .call(
                Method::POST,
                "/houses",
                Some(json!({"name": "home", "grocery_day": "Friday", "household_number": 4})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// `POST /invitations` of `kind` (`invitation` or `join_request`), as the
    /// acting user.
    pub async fn pending(&self, house: i64, user: i64, kind: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": user, "kind": kind})),
        )
        .await
    }

    /// A recipe `author` writes (later requests go as them).
    pub async fn recipe(&self, author: i64, name: &str) -> Value {
        self.act_as(Some(author));
        let (status, body) = self
            .call(Method::POST, "/recipes", Some(recipe_body(name)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

/// A valid recipe: two steps, three ingredient uses.
pub fn recipe_body(name: &str) -> Value {
    json!({
        "name": name,
        "serves_for": 2,
        "types": ["Dinner", "Lunch"],
        "steps": [
            {"text": "chop", "ingredients": [
                {"name": "Onion", "unit": "quantity", "amount": 1},
                {"name": "tomato", "unit": "grams", "amount": 400}
            ]},
            {"text": "simmer", "ingredients": [
                {"name": "lentil", "unit": "grams", "amount": 200}
            ]}
        ]
    })
}

/// Drops a test's database when the test ends, passed or failed.
pub struct DropDatabase(pub String);

fn drop_database(name: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let settings = DbSettings::from_env(name)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(db::drop_database(&settings))?;
    Ok(())
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let name = self.0.clone();
        let dropped = std::thread::spawn(move || drop_database(&name)).join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.0);
        }
    }
}
