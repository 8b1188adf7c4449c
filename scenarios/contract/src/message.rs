//! What travels between peers: any value that can be cloned, printed and
//! serialized. The lab counts its bytes (labrpc's byte counts) and, when a
//! run is checked for determinism, hashes its contents.

use serde::Serialize;

/// A message an implementation sends (a Raft request or response, a
/// client's request or reply).
///
/// ```
/// #[derive(Clone, Debug, serde::Serialize)]
/// struct Vote { term: u64 }
/// impl contract::Message for Vote {
///     fn label(&self) -> &'static str { "Vote" }
/// }
/// assert_eq!(contract::Message::wire_size(&Vote { term: 3 }), 1);
/// ```
pub trait Message: Clone + std::fmt::Debug + Serialize + 'static {
    /// The kind of message ("AppendEntries", "Get"), for reports.
    fn label(&self) -> &'static str {
        "message"
    }
    /// Its size on the wire in bytes: by default the size of its bincode
    /// encoding (standard configuration). An implementation with its own
    /// encoding (protobuf) returns that size.
    fn wire_size(&self) -> usize {
        bincode_size(self)
    }
}

impl Message for () {}

/// The bincode (standard configuration) encoded size of a value.
pub fn bincode_size<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut writer = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut writer, bincode::config::standard())
        .expect("messages must encode with bincode");
    writer.bytes_written
}
