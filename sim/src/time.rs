//! Virtual time: nanoseconds since the simulation started. Nothing here reads
//! a real clock.

/// A point in virtual time, or a duration, in nanoseconds.
pub type Nanos = u64;

pub const NANOS_PER_MS: Nanos = 1_000_000;
pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// `x` milliseconds in nanoseconds.
pub const fn ms(x: u64) -> Nanos {
    x * NANOS_PER_MS
}

/// `x` seconds in nanoseconds.
pub const fn secs(x: u64) -> Nanos {
    x * NANOS_PER_SEC
}

/// Formats a virtual instant as seconds with millisecond precision, e.g. `12.345s`.
pub fn format(t: Nanos) -> String {
    format!("{}.{:03}s", t / NANOS_PER_SEC, (t % NANOS_PER_SEC) / NANOS_PER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_seconds_and_millis() {
        assert_eq!(format(ms(12_345)), "12.345s");
        assert_eq!(format(0), "0.000s");
        assert_eq!(secs(2), ms(2000));
    }
}
