//! Small shared pieces.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (what trait objects in finch return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The message a panic carried (`panic!` with a literal or a formatted string).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
