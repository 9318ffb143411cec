use std::marker::PhantomData;

use finch::KnobValue;

#[derive(Clone, Copy, Debug, KnobValue)]
enum Choice<T> {
    A,
    B,
    Marker(PhantomData<T>),
}

fn main() {}
