//! raft-rs's protobuf messages as the lab carries them. raft-rs sends only
//! one-way messages; the adapter makes each one a call, and the messages a
//! peer answers a call with (its append, vote and heartbeat responses to
//! the caller) ride back on that call's reply, as the Go lab's RPC replies
//! do. So the lab's RPC counts count raft-rs's requests, as they count the
//! Go Raft's, and a lost reply is a lost response.
//!
//! Sizes are protobuf's encoded sizes; the content hash of a
//! determinism check is over the protobuf encoding.

use protobuf::Message as _;
use raft_rs::eraftpb::{Message, MessageType};
use serde::{Serialize, Serializer};

/// One raft-rs message, sent as a call.
#[derive(Clone, Debug)]
pub struct Envelope(pub Message);

/// The messages a peer answered a call with (often none).
#[derive(Clone, Debug, Default)]
pub struct Replies(pub Vec<Message>);

/// Whether raft-rs sends a message in answer to one it received (these ride
/// on the reply to the call that carried it).
pub fn is_response(message: &Message) -> bool {
    matches!(
        message.get_msg_type(),
        MessageType::MsgAppendResponse
            | MessageType::MsgRequestVoteResponse
            | MessageType::MsgRequestPreVoteResponse
            | MessageType::MsgHeartbeatResponse
    )
}

/// The name of a message's type, for reports.
pub fn label(message: &Message) -> &'static str {
    match message.get_msg_type() {
        MessageType::MsgAppend => "MsgAppend",
        MessageType::MsgAppendResponse => "MsgAppendResponse",
        MessageType::MsgRequestVote => "MsgRequestVote",
        MessageType::MsgRequestVoteResponse => "MsgRequestVoteResponse",
        MessageType::MsgRequestPreVote => "MsgRequestPreVote",
        MessageType::MsgRequestPreVoteResponse => "MsgRequestPreVoteResponse",
        MessageType::MsgSnapshot => "MsgSnapshot",
        MessageType::MsgHeartbeat => "MsgHeartbeat",
        MessageType::MsgHeartbeatResponse => "MsgHeartbeatResponse",
        MessageType::MsgTimeoutNow => "MsgTimeoutNow",
        MessageType::MsgReadIndex => "MsgReadIndex",
        MessageType::MsgReadIndexResp => "MsgReadIndexResp",
        _ => "raft-rs message",
    }
}

fn encoded(message: &Message) -> Vec<u8> {
    message.write_to_bytes().expect("raft-rs messages encode")
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&encoded(&self.0))
    }
}

impl Serialize for Replies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|m| BytesOf(encoded(m))))
    }
}

/// A byte string that serializes as bytes (not as a sequence of numbers).
struct BytesOf(Vec<u8>);

impl Serialize for BytesOf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl contract::Message for Envelope {
    fn label(&self) -> &'static str {
        label(&self.0)
    }

    fn wire_size(&self) -> usize {
        self.0.compute_size() as usize
    }
}

impl contract::Message for Replies {
    fn label(&self) -> &'static str {
        self.0.first().map_or("reply", label)
    }

    /// The protobuf size of the messages as a repeated field: each with its
    /// tag byte and its length as a varint.
    fn wire_size(&self) -> usize {
        self.0
            .iter()
            .map(|m| {
                let size = m.compute_size();
                1 + protobuf::rt::compute_raw_varint32_size(size) as usize + size as usize
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::Message as _;

    #[test]
    fn sizes_are_protobuf_sizes() {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        m.term = 3;
        m.to = 2;
        assert_eq!(Envelope(m.clone()).wire_size(), encoded(&m).len());
        assert_eq!(Envelope(m).label(), "MsgHeartbeat");
    }
}
