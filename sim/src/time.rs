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

/// A node's own clock. It runs at 1 / (1 + ppm / 1e6) of virtual time, so a
/// timer of `d` local nanoseconds takes `d * (1 + ppm / 1e6)` virtual ones.
/// A node sees only its local time, which keeps its deadlines and its timers
/// consistent under drift. The drift can change mid-run; local time stays
/// continuous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriftingClock {
    anchor_virtual: Nanos,
    anchor_local: Nanos,
    ppm: i32,
}

const PPM: i128 = 1_000_000;

impl DriftingClock {
    /// Local time at virtual time `now`.
    pub fn local(&self, now: Nanos) -> Nanos {
        debug_assert!(now >= self.anchor_virtual, "virtual time never goes back");
        if self.ppm == 0 {
            // Exactly what the formula gives, without a 128-bit division.
            return self.anchor_local + (now - self.anchor_virtual);
        }
        let elapsed = i128::from(now - self.anchor_virtual);
        self.anchor_local + (elapsed * PPM / (PPM + i128::from(self.ppm))) as Nanos
    }

    /// The virtual delay, from virtual time `now`, until local time has
    /// advanced by `after`: rounded up, so the local clock has reached the
    /// deadline when the timer fires.
    pub fn virtual_delay(&self, now: Nanos, after: Nanos) -> Nanos {
        if self.ppm == 0 {
            return after;
        }
        let target_local = i128::from(self.local(now) - self.anchor_local) + i128::from(after);
        let factor = PPM + i128::from(self.ppm);
        let target_virtual = self.anchor_virtual + ((target_local * factor + PPM - 1) / PPM) as Nanos;
        target_virtual.saturating_sub(now)
    }

    /// The clock's drift, in parts per million.
    pub fn ppm(&self) -> i32 {
        self.ppm
    }

    /// Changes the drift from virtual time `now` on.
    pub fn set_ppm(&mut self, now: Nanos, ppm: i32) {
        assert!(ppm > -1_000_000, "a clock must move forward");
        self.anchor_local = self.local(now);
        self.anchor_virtual = now;
        self.ppm = ppm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drifting_clock_keeps_deadlines_and_timers_consistent() {
        let mut clock = DriftingClock::default();
        assert_eq!((clock.local(ms(5)), clock.virtual_delay(ms(5), ms(10))), (ms(5), ms(10)));
        clock.set_ppm(ms(100), 100_000); // timers take 10% longer
        assert_eq!(clock.local(ms(210)), ms(200), "continuous at the change, then slower");
        let delay = clock.virtual_delay(ms(210), ms(1000));
        assert_eq!(delay, ms(1100));
        assert!(clock.local(ms(210) + delay) >= ms(1200), "the deadline is reached when the timer fires");
        // Whatever the rounding, waiting for a deadline never loops at one instant.
        clock.set_ppm(ms(500), -99_999);
        for now in [ms(500), ms(500) + 1, ms(777) + 3] {
            let deadline = clock.local(now) + 1;
            assert!(clock.local(now + clock.virtual_delay(now, 1)) >= deadline);
        }
    }

    #[test]
    fn formats_seconds_and_millis() {
        assert_eq!(format(ms(12_345)), "12.345s");
        assert_eq!(format(0), "0.000s");
        assert_eq!(secs(2), ms(2000));
    }
}
