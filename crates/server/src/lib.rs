//! The Quorum server: configuration, the Zab driver over real storage, and (being built) the
//! client protocol pipeline.

pub mod config;
pub mod connection;
pub mod events;
pub mod four_letter_words;
pub mod replica;
pub mod watches;
