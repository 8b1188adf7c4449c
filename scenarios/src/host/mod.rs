//! Hosting servers of the contract in the simulator, shared by every lab:
//! the testers' cluster vocabulary (connect, partition, crash, ...), a
//! Raft's I/O over a node's context, and clerks' ends over the network.

pub mod cluster;
pub mod raft_io;
pub mod sim_ends;
