//! Raft as a sans-IO state machine.
