//! The jute records of the client protocol, grouped by what they are for. Field names follow
//! `zookeeper.jute` in snake case.

pub mod auth;
pub mod connect;
pub mod data;
pub mod header;
pub mod multi;
pub mod requests;
pub mod responses;
pub mod watches;
