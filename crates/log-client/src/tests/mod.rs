//! Tests against in-process fake brokers (a tokio TCP server speaking `broker::wire`) and a
//! fake metadata source, so no Quorum and no broker server are needed.

mod fake;

mod admin_tests;
mod conn_tests;
mod consumer_tests;
mod producer_tests;
