//! Small shared pieces.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (what trait objects in finch return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
