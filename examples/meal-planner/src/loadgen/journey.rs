//! The simulated users' actions, after the original's journey: sign up (which
//! signs in) or sign in, create a house and its schedule, write recipes, search
//! and read them, plan meals, fill the pantry, ask for the shopping list. Every
//! action but sign-up is sent with a session of a user allowed to take it: a
//! house's own owner plans its meals and fills its pantry.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::LoadError;
use super::client::Client;
use super::scenario::Kind;
use crate::routes::lookups::{DAYS, MEALS, UNITS};

const DISHES: [&str; 16] = [
    "soup",
    "curry",
    "salad",
    "stew",
    "pasta",
    "risotto",
    "pie",
    "omelette",
    "tacos",
    "chili",
    "gratin",
    "pancakes",
    "porridge",
    "burger",
    "noodles",
    "casserole",
];
const STYLES: [&str; 12] = [
    "spicy", "creamy", "green", "smoky", "quick", "winter", "summer", "garlic", "lemon", "herb",
    "roasted", "sweet",
];
const FOODS: [&str; 24] = [
    "tomato", "onion", "garlic", "carrot", "potato", "rice", "lentil", "bean", "flour", "egg",
    "milk", "butter", "cheese", "chicken", "beef", "tofu", "spinach", "pepper", "mushroom",
    "apple", "lemon", "basil", "oat", "noodle",
];
const VARIETIES: [&str; 8] = [
    "red", "white", "green", "dried", "fresh", "smoked", "wild", "baby",
];

/// Something the load generator created, with the session of the user who may
/// act on it (a user's own session; a house's owner's).
#[derive(Clone, Debug)]
struct Owned {
    id: i64,
    token: String,
}

/// What the load generator knows exists: ids it created or was told about.
#[derive(Debug, Default)]
pub struct World {
    users: RwLock<Vec<Owned>>,
    houses: RwLock<Vec<Owned>>,
    recipes: RwLock<Vec<i64>>,
    serial: AtomicU64,
    run: u64,
}

fn pick<T: Clone>(list: &RwLock<Vec<T>>, rng: &mut ChaCha8Rng) -> Option<T> {
    let list = list.read().unwrap_or_else(|p| p.into_inner());
    if list.is_empty() {
        None
    } else {
        list.get(rng.random_range(0..list.len())).cloned()
    }
}

fn push<T>(list: &RwLock<Vec<T>>, item: T) {
    list.write().unwrap_or_else(|p| p.into_inner()).push(item);
}

fn id_of(reply: &super::client::Reply) -> Option<i64> {
    reply.json()?.get("id")?.as_i64()
}

fn token_of(reply: &super::client::Reply) -> Option<String> {
    Some(reply.json()?.get("token")?.as_str()?.to_string())
}

/// What one action did: requests sent, and whether every one succeeded.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    /// Requests sent.
    pub requests: u32,
    /// Whether every request got a 2xx.
    pub ok: bool,
}

impl World {
    /// An empty world; `run` makes e-mail addresses unique across runs.
    pub fn new(run: u64) -> Self {
        World {
            run,
            ..World::default()
        }
    }

    /// Users, houses and recipes known.
    pub fn sizes(&self) -> (usize, usize, usize) {
        fn len<T>(l: &RwLock<Vec<T>>) -> usize {
            l.read().unwrap_or_else(|p| p.into_inner()).len()
        }
        (len(&self.users), len(&self.houses), len(&self.recipes))
    }

    fn next(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// A recipe, popular ones more often: ranks are log-uniform (about Zipf
    /// with exponent 1), so a small cache serves many reads and a large one most.
    fn popular_recipe(&self, rng: &mut ChaCha8Rng) -> Option<i64> {
        let list = self.recipes.read().unwrap_or_else(|p| p.into_inner());
        if list.is_empty() {
            return None;
        }
        let n = list.len() as f64;
        let u: f64 = rng.random_range(0.0..1.0);
        let rank = (n.powf(u) - 1.0).floor() as usize;
        list.get(rank.min(list.len() - 1)).copied()
    }

    /// Runs one action of `kind`.
    pub async fn act(
        &self,
        client: &Client,
        kind: Kind,
        rng: &mut ChaCha8Rng,
    ) -> Result<Done, LoadError> {
        let one = |ok: bool| Done { requests: 1, ok };
        match kind {
            Kind::SignUp => self.sign_up(client).await.map(|id| one(id.is_some())),
            Kind::House => self.house(client, rng).await,
            Kind::CreateRecipe => self
                .create_recipe(client, rng)
                .await
                .map(|id| one(id.is_some())),
            Kind::Search => {
                let Some(user) = pick(&self.users, rng) else {
                    return Err(LoadError::Setup("no user to search".into()));
                };
                let word = DISHES[rng.random_range(0..DISHES.len())];
                let r = client
                    .send_as(
                        Some(&user.token),
                        Method::GET,
                        &format!("/recipes?name={word}&limit=20"),
                        None,
                    )
                    .await?;
                Ok(one(r.status.is_success()))
            }
            Kind::Read => {
                let (Some(user), Some(id)) = (pick(&self.users, rng), self.popular_recipe(rng))
                else {
                    return Err(LoadError::Setup("no user or recipe to read".into()));
                };
                let r = client
                    .send_as(
                        Some(&user.token),
                        Method::GET,
                        &format!("/recipes/{id}"),
                        None,
                    )
                    .await?;
                Ok(one(r.status.is_success()))
            }
            Kind::Plan => {
                let (Some(house), Some(recipe)) =
                    (pick(&self.houses, rng), self.popular_recipe(rng))
                else {
                    return Err(LoadError::Setup("no house or recipe to plan with".into()));
                };
                let body = json!({
                    "day": DAYS[rng.random_range(0..DAYS.len())],
                    "type": MEALS[rng.random_range(0..MEALS.len())],
                    "recipe": recipe,
                });
                let r = client
                    .send_as(
                        Some(&house.token),
                        Method::PUT,
                        &format!("/schedules/{}", house.id),
                        Some(&body),
                    )
                    .await?;
                Ok(one(r.status.is_success()))
            }
            Kind::Pantry => {
                let Some(house) = pick(&self.houses, rng) else {
                    return Err(LoadError::Setup("no house for a pantry".into()));
                };
                let n = rng.random_range(10..50);
                let items: Vec<Value> = (0..n)
                    .map(|_| {
                        json!({
                            "name": ingredient(rng),
                            "amount": rng.random_range(0..2000) as f32 / 10.0,
                            "unit": UNITS[rng.random_range(0..UNITS.len())],
                        })
                    })
                    .collect();
                let r = client
                    .send_as(
                        Some(&house.token),
                        Method::PUT,
                        &format!("/storages/{}", house.id),
                        Some(&Value::Array(items)),
                    )
                    .await?;
                Ok(one(r.status.is_success()))
            }
            Kind::ShoppingList => {
                let Some(house) = pick(&self.houses, rng) else {
                    return Err(LoadError::Setup("no house for a shopping list".into()));
                };
                let r = client
                    .send_as(
                        Some(&house.token),
                        Method::GET,
                        &format!("/schedules/{}/shopping-list", house.id),
                        None,
                    )
                    .await?;
                Ok(one(r.status.is_success()))
            }
        }
    }

    /// Signs a new user up (which signs them in) and keeps their session;
    /// returns the id.
    pub async fn sign_up(&self, client: &Client) -> Result<Option<i64>, LoadError> {
        Ok(self.sign_up_as(client).await?.map(|(id, _)| id))
    }

    /// Signs a new user up, then signs them in with their e-mail and password
    /// as a returning user would, and keeps that session; returns the id.
    pub async fn sign_up_and_in(&self, client: &Client) -> Result<Option<i64>, LoadError> {
        let Some((id, credentials)) = self.sign_up_as(client).await? else {
            return Ok(None);
        };
        let r = client
            .send(Method::POST, "/sessions", Some(&credentials))
            .await?;
        let Some(token) = token_of(&r) else {
            return Ok(None);
        };
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .iter_mut()
            .filter(|u| u.id == id)
            .for_each(|u| u.token.clone_from(&token));
        Ok(Some(id))
    }

    /// Signs a new user up and keeps the session it opens; returns the id and
    /// the credentials.
    async fn sign_up_as(&self, client: &Client) -> Result<Option<(i64, Value)>, LoadError> {
        let n = self.next();
        let email = format!("cook{n}.{}@example.com", self.run);
        let password = format!("correct horse battery {n}");
        let body = json!({
            "name": format!("cook {n}"),
            "email": email,
            "password": password,
        });
        let r = client.send(Method::POST, "/users", Some(&body)).await?;
        let (Some(id), Some(token)) = (id_of(&r), token_of(&r)) else {
            return Ok(None);
        };
        push(&self.users, Owned { id, token });
        Ok(Some((id, json!({ "email": email, "password": password }))))
    }

    /// Creates a house owned by a known user, then its schedule.
    pub async fn house(&self, client: &Client, rng: &mut ChaCha8Rng) -> Result<Done, LoadError> {
        let Some(owner) = pick(&self.users, rng) else {
            return Err(LoadError::Setup("no user to own a house".into()));
        };
        let n = self.next();
        let body = json!({
            "name": format!("house {n}"),
            "grocery_day": DAYS[rng.random_range(0..DAYS.len())],
            "household_number": rng.random_range(1..7),
        });
        let as_owner = Some(owner.token.as_str());
        let r = client
            .send_as(as_owner, Method::POST, "/houses", Some(&body))
            .await?;
        let Some(id) = id_of(&r) else {
            return Ok(Done {
                requests: 1,
                ok: false,
            });
        };
        let s = client
            .send_as(as_owner, Method::POST, &format!("/schedules/{id}"), None)
            .await?;
        if s.status.is_success() {
            push(
                &self.houses,
                Owned {
                    id,
                    token: owner.token,
                },
            );
        }
        Ok(Done {
            requests: 2,
            ok: s.status.is_success(),
        })
    }

    /// Creates a recipe of 3–9 steps with 1–4 ingredients each, by a house's
    /// owner for that house or by any user for none; returns the id.
    pub async fn create_recipe(
        &self,
        client: &Client,
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<i64>, LoadError> {
        let (author, house) = match pick(&self.houses, rng) {
            Some(house) => (Some(house.token), Some(house.id)),
            None => (pick(&self.users, rng).map(|u| u.token), None),
        };
        let Some(author) = author else {
            return Err(LoadError::Setup("no user to write a recipe".into()));
        };
        let n = self.next();
        let steps: Vec<Value> = (0..rng.random_range(3..10))
            .map(|s| {
                let mut names: Vec<String> = (0..rng.random_range(1..5))
                    .map(|_| ingredient(rng))
                    .collect();
                names.sort();
                names.dedup();
                let uses: Vec<Value> = names
                    .into_iter()
                    .map(|name| {
                        json!({
                            "name": name,
                            "unit": UNITS[rng.random_range(0..UNITS.len())],
                            "amount": rng.random_range(1..500) as f32 / 10.0,
                        })
                    })
                    .collect();
                json!({ "text": format!("step {} of recipe {n}", s + 1), "ingredients": uses })
            })
            .collect();
        let mut types = vec![MEALS[rng.random_range(0..MEALS.len())]];
        if rng.random_range(0..2) == 0 {
            types.push(MEALS[rng.random_range(0..MEALS.len())]);
        }
        let body = json!({
            "name": format!(
                "{} {} {n}",
                STYLES[rng.random_range(0..STYLES.len())],
                DISHES[rng.random_range(0..DISHES.len())]
            ),
            "serves_for": rng.random_range(1..9),
            "types": types,
            "steps": steps,
            "house": house,
        });
        let r = client
            .send_as(Some(&author), Method::POST, "/recipes", Some(&body))
            .await?;
        let id = id_of(&r);
        if let Some(id) = id {
            push(&self.recipes, id);
        }
        Ok(id)
    }
}

/// One of 192 ingredient names (`fresh tomato`, `dried bean`, ...).
fn ingredient(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{} {}",
        VARIETIES[rng.random_range(0..VARIETIES.len())],
        FOODS[rng.random_range(0..FOODS.len())]
    )
}
