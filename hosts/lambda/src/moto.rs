//! `moto_server` for the tests that need real AWS APIs on loopback (DynamoDB): the test bed
//! every host's tests share ([`mailroom_test_support`]), started through
//! `tests/lambda-e2e/moto_server.py`; each test starts its own and it is stopped when dropped.

pub(crate) use mailroom_test_support::Moto;
pub(crate) use mailroom_test_support::dynamodb::key_table;
