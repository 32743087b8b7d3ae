//! What the hosts' tests share, so that they run against one test bed: `moto_server` on
//! loopback ([`moto`]) and, with the feature `dynamodb`, the SDK configuration pointing at it
//! and the DynamoDB tables the tests create ([`dynamodb`]).
//!
//! A dev-dependency only (`publish = false`): nothing here is part of a host.

pub mod moto;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;

pub use moto::Moto;
