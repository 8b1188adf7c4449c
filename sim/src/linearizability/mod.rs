//! Linearizability checking (see issue: not built yet).
