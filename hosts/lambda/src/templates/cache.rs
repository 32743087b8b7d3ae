//! The loaded templates, kept across invocations of a warm function.
//!
//! The first invocation loads the branch head. Later ones reuse it; once the check interval has
//! passed, one GetBranch call tells whether the head moved, and only then is the commit loaded
//! again. When CodeCommit fails and a loaded commit exists, that commit keeps serving (with a
//! warning) and the next check waits a full interval, so an outage costs no latency per batch.
//! With nothing loaded, every invocation tries again and the caller retries the records.
//!
//! A refresh is given a time limit by the caller: the SDK's own timeouts and retries add up to
//! more than an invocation has. A refresh without an answer by then counts as a failed one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailroom_core::Mailroom;

use super::loader::{self, LoadOptions, Loaded};
use super::source::TemplateSource;

/// What asking CodeCommit gave.
enum Refresh {
    /// The branch head is the loaded commit.
    Unchanged,
    /// The head moved (or nothing was loaded) and its commit is loaded now.
    Loaded(Loaded),
    /// A call failed after `calls` calls.
    Failed { calls: u32, problem: String },
}

/// The branch head, and its commit unless it is `current`.
async fn refresh<S: TemplateSource>(
    source: &S,
    options: &LoadOptions,
    current: Option<&str>,
) -> Refresh {
    let head = match source.head().await {
        Ok(head) => head,
        Err(error) => {
            return Refresh::Failed {
                calls: 1,
                problem: error.to_string(),
            };
        }
    };
    if current == Some(head.as_str()) {
        return Refresh::Unchanged;
    }
    match loader::load(source, options, &head).await {
        Ok(loaded) => Refresh::Loaded(loaded),
        Err(error) => Refresh::Failed {
            calls: 1,
            problem: error.to_string(),
        },
    }
}

/// What the cache has for this invocation.
pub struct CacheLookup {
    /// The templates to use, when any could be loaded now or before.
    pub mailroom: Option<Arc<Mailroom>>,
    /// The commit they come from.
    pub commit: Option<String>,
    /// CodeCommit calls made for this lookup.
    pub calls: u32,
    /// Why nothing is available, when `mailroom` is `None`.
    pub problem: Option<String>,
}

struct Current {
    commit: String,
    mailroom: Arc<Mailroom>,
    checked_at: Instant,
}

/// The cache. One per function instance; invocations never overlap, so `&mut self` is enough.
pub struct TemplateCache<S> {
    source: S,
    options: LoadOptions,
    check_every: Duration,
    current: Option<Current>,
}

impl<S: TemplateSource> TemplateCache<S> {
    /// An empty cache that checks the branch head at most every `check_every`.
    pub fn new(source: S, options: LoadOptions, check_every: Duration) -> Self {
        Self {
            source,
            options,
            check_every,
            current: None,
        }
    }

    /// The templates for an invocation starting at `now`, refreshed if that is due and can be
    /// done by `refresh_by`.
    pub async fn get(&mut self, now: Instant, refresh_by: Instant) -> CacheLookup {
        if let Some(current) = &self.current
            && now.saturating_duration_since(current.checked_at) < self.check_every
        {
            return self.hit(0);
        }
        let current = self.current.as_ref().map(|c| c.commit.clone());
        let refresh = refresh(&self.source, &self.options, current.as_deref());
        let refreshed = tokio::time::timeout_at(refresh_by.into(), refresh).await;
        match refreshed {
            Ok(Refresh::Unchanged) => {
                if let Some(current) = self.current.as_mut() {
                    current.checked_at = now;
                }
                self.hit(1)
            }
            Ok(Refresh::Loaded(loaded)) => {
                // GetBranch, then the load's own calls.
                let calls = 1 + loaded.calls;
                tracing::info!(
                    commit = %loaded.commit,
                    templates = loaded.templates,
                    previous = self.current.as_ref().map(|c| c.commit.as_str()),
                    "templates loaded"
                );
                self.current = Some(Current {
                    commit: loaded.commit,
                    mailroom: loaded.mailroom,
                    checked_at: now,
                });
                self.hit(calls)
            }
            Ok(Refresh::Failed { calls, problem }) => self.keep_after(now, calls, &problem),
            // The calls in flight are dropped; at least GetBranch was made.
            Err(_) => {
                let budget = refresh_by.saturating_duration_since(now).as_millis();
                let problem = format!("CodeCommit did not answer within {budget} ms");
                self.keep_after(now, 1, &problem)
            }
        }
    }

    fn hit(&self, calls: u32) -> CacheLookup {
        CacheLookup {
            mailroom: self.current.as_ref().map(|c| Arc::clone(&c.mailroom)),
            commit: self.current.as_ref().map(|c| c.commit.clone()),
            calls,
            problem: None,
        }
    }

    /// Loading failed: keep the loaded commit if there is one.
    fn keep_after(&mut self, now: Instant, calls: u32, problem: &str) -> CacheLookup {
        match self.current.as_mut() {
            Some(current) => {
                tracing::warn!(commit = %current.commit, problem, "templates could not be refreshed; using the cached copy");
                current.checked_at = now;
                self.hit(calls)
            }
            None => {
                tracing::error!(
                    problem,
                    "templates could not be loaded and no copy is cached"
                );
                CacheLookup {
                    mailroom: None,
                    commit: None,
                    calls,
                    problem: Some(problem.to_owned()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::templates::source::tests::FakeSource;

    /// A refresh limit no test reaches.
    fn far(start: Instant) -> Instant {
        start + Duration::from_secs(3600)
    }

    fn cache(source: FakeSource) -> TemplateCache<FakeSource> {
        let vars: BTreeMap<String, String> = [
            ("SENDER", "a@example.com"),
            ("SUBJECT", "s"),
            ("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "t.html"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let options = LoadOptions {
            routes_file: None,
            template_folder: String::new(),
            vars: Arc::new(vars),
        };
        TemplateCache::new(source, options, Duration::from_secs(60))
    }

    #[tokio::test]
    async fn loads_once_then_checks_the_head_only_after_the_interval() {
        let mut cache = cache(FakeSource::with_files(&[("t.html", "v1")]));
        let start = Instant::now();
        let first = cache.get(start, far(start)).await;
        assert_eq!(first.commit.as_deref(), Some("c1"));
        assert_eq!(first.calls, 3, "GetBranch, GetFolder, GetFile");
        let warm = cache.get(start + Duration::from_secs(30), far(start)).await;
        assert_eq!(warm.calls, 0);
        assert!(Arc::ptr_eq(
            first.mailroom.as_ref().unwrap(),
            warm.mailroom.as_ref().unwrap()
        ));
        let same_head = cache.get(start + Duration::from_secs(61), far(start)).await;
        assert_eq!(same_head.calls, 1, "only GetBranch");
        assert!(Arc::ptr_eq(
            first.mailroom.as_ref().unwrap(),
            same_head.mailroom.as_ref().unwrap()
        ));

        *cache.source.head.lock().unwrap() = "c2".into();
        let moved = cache.get(start + Duration::from_secs(62), far(start)).await;
        assert_eq!(moved.calls, 0, "checked less than an interval ago");
        let moved = cache
            .get(start + Duration::from_secs(122), far(start))
            .await;
        assert_eq!(moved.commit.as_deref(), Some("c2"));
        assert_eq!(moved.calls, 3);
    }

    #[tokio::test]
    async fn an_outage_keeps_the_cached_copy_and_without_one_reports_the_problem() {
        let mut cache = cache(FakeSource::with_files(&[("t.html", "v1")]));
        cache.source.down.store(true, Ordering::SeqCst);
        let start = Instant::now();
        let cold = cache.get(start, far(start)).await;
        assert!(cold.mailroom.is_none());
        assert!(cold.problem.unwrap().contains("GetBranch"));
        let again = cache.get(start + Duration::from_secs(1), far(start)).await;
        assert_eq!(
            again.calls, 1,
            "with nothing cached, every invocation tries again"
        );

        cache.source.down.store(false, Ordering::SeqCst);
        assert!(
            cache
                .get(start + Duration::from_secs(2), far(start))
                .await
                .mailroom
                .is_some()
        );
        cache.source.down.store(true, Ordering::SeqCst);
        let stale = cache
            .get(start + Duration::from_secs(100), far(start))
            .await;
        assert_eq!(stale.commit.as_deref(), Some("c1"));
        assert!(stale.mailroom.is_some() && stale.problem.is_none());
        assert_eq!(
            cache
                .get(start + Duration::from_secs(101), far(start))
                .await
                .calls,
            0,
            "the next check waits an interval"
        );
    }
}
