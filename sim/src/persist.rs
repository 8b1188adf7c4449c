//! The persister: what survives a crash. It follows the lab's semantics (raft
//! state and snapshot saved together, sizes readable, a crashed instance's
//! later writes invisible: a killed node is dropped, so it cannot write) and
//! adds unsynced writes, which a process crash keeps but a machine crash
//! (`CrashMode::LoseUnsynced`) loses. A disk with latency (`disk.rs`) writes
//! asynchronous edits here and makes them durable when its flush ends.

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
    /// Written but not yet synced (the page cache); `None` when everything
    /// is durable.
    unsynced: Option<Image>,
    /// What the disk's flush in progress makes durable, kept when a later
    /// write overtook the flush; `None`: the flush covers `unsynced` as it is.
    flushing: Option<Image>,
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
        self.flushing = None;
        if let Some(image) = self.unsynced.take() {
            self.durable = image;
        }
    }

    /// An edit of the raft state in the page cache only: durable at the
    /// next `sync` or when the disk's flush of it ends.
    pub fn edit_unsynced(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
        let durable = &self.durable;
        edit(&mut self.unsynced.get_or_insert_with(|| durable.clone()).raft_state);
    }

    /// A write is about to overtake the flush in progress: keep what the
    /// flush makes durable (once per flush).
    pub(crate) fn hold_flush_image(&mut self) {
        if self.flushing.is_none() {
            self.flushing = Some(self.current().clone());
        }
    }

    /// The disk's flush ended: what it covered is durable.
    pub(crate) fn finish_flush(&mut self) {
        match self.flushing.take() {
            Some(image) => self.durable = image,
            None => self.sync(),
        }
    }

    /// A machine crash: what was not synced is gone.
    pub(crate) fn lose_unsynced(&mut self) {
        self.unsynced = None;
        self.flushing = None;
    }

    /// Whether everything written is durable (nothing in the page cache
    /// alone).
    pub fn is_synced(&self) -> bool {
        self.unsynced.is_none()
    }

    /// The raft state a machine crash would leave (the page cache is what
    /// `raft_state` reads).
    pub fn durable_raft_state(&self) -> &[u8] {
        &self.durable.raft_state
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

    #[test]
    fn a_flush_makes_durable_what_was_written_before_it_began() {
        let mut p = Persister::default();
        p.save_raft_state(vec![1]);
        p.edit_unsynced(|s| s.push(2)); // a flush of [1, 2] begins
        p.hold_flush_image();
        p.edit_unsynced(|s| s.push(3)); // overtakes it
        assert_eq!((p.raft_state(), p.durable_raft_state()), (&[1, 2, 3][..], &[1][..]));
        p.finish_flush();
        assert_eq!((p.raft_state(), p.durable_raft_state()), (&[1, 2, 3][..], &[1, 2][..]));
        p.finish_flush(); // the next flush covers the rest
        assert_eq!(p.durable_raft_state(), &[1, 2, 3]);
        p.edit_unsynced(|s| s.push(4));
        p.lose_unsynced();
        assert_eq!(p.raft_state(), &[1, 2, 3]);
    }
}
