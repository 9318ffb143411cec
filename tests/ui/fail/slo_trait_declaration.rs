use finch::slo;

trait Store {
    #[slo(p99 < 50ms)]
    fn load(&self, id: u32) -> Option<String>;
}

fn main() {}
