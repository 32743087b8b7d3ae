//! Every AWS call gets a share of the invocation's time: a service that does not answer must not
//! keep the invocation past its deadline (Lambda would then retry the whole batch).

use std::future::Future;
use std::time::Instant;

/// What `call` answers by `until`, else what `timed_out` makes of the silence. The caller then
/// treats the call as failed, as it treats any failed call, and the invocation ends in time.
pub async fn within<T>(
    until: Instant,
    call: impl Future<Output = T>,
    timed_out: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout_at(until.into(), call)
        .await
        .unwrap_or_else(|_| timed_out())
}
