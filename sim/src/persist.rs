//! The persister: what survives a crash. It follows the lab's semantics (raft
//! state and snapshot saved together, sizes readable, a crashed instance's
//! later writes invisible: a killed node is dropped, so it cannot write) and
//! adds unsynced writes, which a process crash keeps but a machine crash
//! (`CrashMode::LoseUnsynced`) loses.

use std::sync::Arc;

#[derive(Clone, Debug, Default)]
struct Image {
    raft_state: Vec<u8>,
    snapshot: Arc<Vec<u8>>,
}

/// One server's stable storage.
#[derive(Clone, Debug, Default)]
pub struct Persister {
    durable: Image,
    /// Written but not yet synced; `None` when everything is durable.
    unsynced: Option<Image>,
}

impl Persister {
    /// The lab's `SaveRaftState`: durable at once.
    pub fn save_raft_state(&mut self, state: Vec<u8>) {
        self.current_mut().raft_state = state;
    }

    /// The lab's `Save(state, snapshot)`: both durable at once, together.
    pub fn save(&mut self, state: Vec<u8>, snapshot: Vec<u8>) {
        self.save_shared(state, Arc::new(snapshot));
    }

    /// `save`, keeping a snapshot shared with its writer (no copy).
    pub fn save_shared(&mut self, state: Vec<u8>, snapshot: Arc<Vec<u8>>) {
        let image = self.current_mut();
        image.raft_state = state;
        image.snapshot = snapshot;
    }

    /// In-place, durable edit of the raft state (for incremental encodings).
    pub fn raft_state_mut(&mut self) -> &mut Vec<u8> {
        &mut self.current_mut().raft_state
    }

    /// Writes that only become durable at the next `sync`.
    pub fn save_unsynced(&mut self, state: Vec<u8>, snapshot: Vec<u8>) {
        self.unsynced = Some(Image { raft_state: state, snapshot: Arc::new(snapshot) });
    }

    /// Makes unsynced writes durable.
    pub fn sync(&mut self) {
        if let Some(image) = self.unsynced.take() {
            self.durable = image;
        }
    }

    /// A machine crash: what was not synced is gone.
    pub(crate) fn lose_unsynced(&mut self) {
        self.unsynced = None;
    }

    fn current(&self) -> &Image {
        self.unsynced.as_ref().unwrap_or(&self.durable)
    }

    fn current_mut(&mut self) -> &mut Image {
        // A durable write supersedes any unsynced one.
        self.sync();
        &mut self.durable
    }

    /// What a reader sees: the newest write, synced or not (a page cache).
    pub fn raft_state(&self) -> &[u8] {
        &self.current().raft_state
    }

    pub fn snapshot(&self) -> &[u8] {
        &self.current().snapshot
    }

    pub fn raft_state_size(&self) -> usize {
        self.current().raft_state.len()
    }

    pub fn snapshot_size(&self) -> usize {
        self.current().snapshot.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_are_durable_and_sized() {
        let mut p = Persister::default();
        p.save(vec![1, 2, 3], vec![9; 10]);
        assert_eq!(p.raft_state(), &[1, 2, 3]);
        assert_eq!((p.raft_state_size(), p.snapshot_size()), (3, 10));
        p.raft_state_mut().push(4);
        assert_eq!(p.raft_state_size(), 4);
    }

    #[test]
    fn unsynced_writes_are_lost_only_by_a_machine_crash() {
        let mut p = Persister::default();
        p.save(vec![1], vec![]);
        p.save_unsynced(vec![2], vec![]);
        assert_eq!(p.raft_state(), &[2]);
        let mut process_crash = p.clone();
        assert_eq!(process_crash.raft_state(), &[2]);
        p.lose_unsynced();
        assert_eq!(p.raft_state(), &[1]);
        process_crash.sync();
        process_crash.lose_unsynced();
        assert_eq!(process_crash.raft_state(), &[2]);
    }
}
