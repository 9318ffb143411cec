//! `#[slo]` on methods: inherent and trait impls, every receiver, generic
//! impls, trait default methods and async methods.

use finch::slo;

struct Pantry {
    name: String,
    stock: u32,
}

impl Pantry {
    #[slo(p99 < 1ms)]
    fn new(name: &str) -> Self {
        Pantry {
            name: name.into(),
            stock: 0,
        }
    }

    #[slo(p99 < 1ms, name = "pass.pantry.name")]
    fn name(&self) -> &str {
        &self.name
    }

    #[slo(p99 < 1ms, name = "pass.pantry.stock_mut")]
    pub fn stock_mut(&mut self) -> &mut u32 {
        &mut self.stock
    }

    #[slo(p99 < 1ms, name = "pass.pantry.into_name")]
    fn into_name(self) -> String {
        self.name
    }

    #[slo(p99 < 1ms, name = "pass.pantry.boxed")]
    fn boxed(self: Box<Self>) -> u32 {
        self.stock
    }

    #[slo(p99 < 20ms, errors < 1%, name = "pass.pantry.restock")]
    async fn restock(&mut self, n: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        self.stock = self.stock.checked_add(n).ok_or("too much stock")?;
        Ok(self.stock)
    }

    #[slo(p99 < 20ms, name = "pass.pantry.label")]
    async fn label(&self) -> &str {
        tokio::task::yield_now().await;
        &self.name
    }
}

struct Wrapper<T>(Vec<T>);

impl<T: Clone + PartialEq> Wrapper<T> {
    #[slo(p99 < 1ms, name = "pass.wrapper.find")]
    fn find(&self, wanted: &T) -> Option<&T> {
        self.0.iter().find(|t| *t == wanted)
    }

    #[slo(p99 < 1ms, name = "pass.wrapper.cloned")]
    fn cloned(&self) -> Vec<T> {
        self.0.clone()
    }
}

trait Shelf {
    fn count(&self) -> usize;

    #[slo(p99 < 1ms, name = "pass.shelf.describe")]
    fn describe(&self) -> String {
        format!("{} items", self.count())
    }

    fn fill(&mut self) -> impl std::future::Future<Output = usize> + Send;
}

impl Shelf for Pantry {
    #[slo(p99 < 1ms, name = "pass.shelf.count")]
    fn count(&self) -> usize {
        self.stock as usize
    }

    #[slo(p99 < 1ms, name = "pass.shelf.fill")]
    async fn fill(&mut self) -> usize {
        tokio::task::yield_now().await;
        self.stock = 100;
        100
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut pantry = Pantry::new("larder");
    assert_eq!(pantry.name(), "larder");
    *pantry.stock_mut() += 3;
    assert_eq!(pantry.count(), 3);
    assert_eq!(pantry.describe(), "3 items");
    assert_eq!(pantry.restock(2).await, Ok(5));
    assert_eq!(pantry.label().await, "larder");
    assert_eq!(pantry.fill().await, 100);
    assert_eq!(Box::new(Pantry::new("b")).boxed(), 0);
    assert_eq!(pantry.into_name(), "larder");
    let w = Wrapper(vec![1, 2]);
    assert_eq!(w.find(&2), Some(&2));
    assert_eq!(w.cloned(), [1, 2]);
    let calls = |name: &str| finch::slo_by_name(name).map(|s| s.calls());
    assert_eq!(calls("pass.pantry.name"), Some(1));
    assert_eq!(calls("pass.shelf.describe"), Some(1));
    // `describe` calls `count` too.
    assert_eq!(calls("pass.shelf.count"), Some(2));
    assert_eq!(calls("pass.shelf.fill"), Some(1));
    assert_eq!(calls("pass.pantry.restock"), Some(1));
}
