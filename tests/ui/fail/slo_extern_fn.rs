use finch::slo;

#[slo(p99 < 50ms)]
extern "C" fn callback(x: i32) -> i32 {
    x
}

fn main() {}
