//! Sending a batch's emails concurrently, within a bound and before the deadline.
//!
//! The core hands out every message (email or text) that may go now (all of them for a standard queue; one per
//! message group for FIFO). Up to `max_concurrent` are in flight at once; as each completes the
//! core is told, which may release the next email of its FIFO group. Once the deadline margin
//! is reached no send starts: what was not handed out is retried (`deadline`), and the sends
//! already in flight get until shortly before the deadline to answer. The emails handed out
//! together form a round, which the mailer [prepares](Mailer::prepare) as a whole before its
//! sends start: with an idempotency store, one claim call for the round's keys.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use mailroom_core::{Batch, Message, SendFailure, SendId, SendOutcome, SendRequest};

use crate::mailer::Mailer;

/// When sends may start and how many at once.
#[derive(Debug, Clone, Copy)]
pub struct SendWindow {
    /// The invocation's deadline.
    pub deadline: Instant,
    /// No send starts later than `deadline - margin`.
    pub margin: Duration,
    /// Sends in flight at once.
    pub max_concurrent: usize,
}

impl SendWindow {
    /// Sends in flight must have answered by then: half the margin is left for what follows
    /// (completion writes, the SQS calls, the response).
    #[must_use]
    pub fn answer_by(&self) -> Instant {
        self.deadline
            .checked_sub(self.margin / 2)
            .unwrap_or_else(Instant::now)
    }
}

/// Sends everything the batch asks for, reporting each outcome to it. Returns the number of
/// sends attempted.
pub async fn send_all<M: Mailer>(batch: &mut Batch, mailer: &M, window: SendWindow) -> usize {
    let stop_starting = window
        .deadline
        .checked_sub(window.margin)
        .unwrap_or_else(Instant::now);
    let answer_by = window.answer_by();
    let mut in_flight = FuturesUnordered::new();
    let mut attempted = 0;
    loop {
        if Instant::now() < stop_starting {
            let mut round = Vec::new();
            while in_flight.len() + round.len() < window.max_concurrent.max(1) {
                let Some(request) = batch.next_send() else {
                    break;
                };
                round.push(request);
            }
            if !round.is_empty() {
                // The round's bookkeeping in one call (a store claims every key at once).
                // While it runs, sends already in flight keep going (each is a task of the
                // mailer's); only the reporting of their outcomes waits.
                let messages: Vec<&Message> =
                    round.iter().map(|request| &request.message).collect();
                let budget = answer_by.saturating_duration_since(Instant::now());
                if tokio::time::timeout(budget, mailer.prepare(&messages))
                    .await
                    .is_err()
                {
                    tracing::warn!("preparing the sends took until the deadline");
                }
            }
            for request in round {
                attempted += 1;
                in_flight.push(send_one(mailer, request, answer_by));
            }
        } else {
            batch.expire();
        }
        match in_flight.next().await {
            Some((id, outcome)) => {
                if let Err(error) = batch.complete_send(id, outcome) {
                    // Each send is answered once, with the id the batch gave: a bug if not.
                    tracing::error!(%error, "the batch refused a send outcome");
                }
            }
            None => break,
        }
    }
    attempted
}

async fn send_one<M: Mailer>(
    mailer: &M,
    request: SendRequest,
    answer_by: Instant,
) -> (SendId, SendOutcome) {
    let budget = answer_by.saturating_duration_since(Instant::now());
    let outcome = match tokio::time::timeout(
        budget,
        mailer.send(&request.message, &request.message_id),
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(_) => SendOutcome::Failed(SendFailure::new(
            "timeout",
            "no answer before the invocation deadline",
            None,
        )),
    };
    (request.id, outcome)
}
