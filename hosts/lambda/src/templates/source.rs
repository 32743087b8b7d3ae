//! Where templates come from: a small trait over the three CodeCommit calls the loader makes,
//! and the SDK implementation.

use std::future::Future;

use aws_sdk_codecommit::error::{DisplayErrorContext, ProvideErrorMetadata};
use thiserror::Error;

/// CodeCommit could not be asked (network, permissions, throttling, a missing branch): our side.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("CodeCommit {operation} failed: {detail}")]
pub struct SourceError {
    /// `GetBranch`, `GetFolder` or `GetFile`.
    pub operation: &'static str,
    /// The error code and message, or the transport failure.
    pub detail: String,
}

/// One folder level: file paths and sub-folder paths, both from the repository root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Files directly in the folder.
    pub files: Vec<String>,
    /// Folders directly in the folder.
    pub folders: Vec<String>,
}

/// A versioned tree of template files.
pub trait TemplateSource {
    /// The commit the branch points at now.
    fn head(&self) -> impl Future<Output = Result<String, SourceError>> + Send;
    /// One level of `folder` (repository path, empty for the root) at `commit`; `None` when the
    /// folder does not exist.
    fn list(
        &self,
        commit: &str,
        folder: &str,
    ) -> impl Future<Output = Result<Option<Listing>, SourceError>> + Send;
    /// A file's bytes at `commit`; `None` when it does not exist.
    fn file(
        &self,
        commit: &str,
        path: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, SourceError>> + Send;
}

/// [`TemplateSource`] over the CodeCommit API.
#[derive(Debug, Clone)]
pub struct CodeCommitSource {
    client: aws_sdk_codecommit::Client,
    repository: String,
    branch: String,
}

impl CodeCommitSource {
    /// A source for `branch` of `repository`.
    pub fn new(
        client: aws_sdk_codecommit::Client,
        repository: impl Into<String>,
        branch: impl Into<String>,
    ) -> Self {
        Self {
            client,
            repository: repository.into(),
            branch: branch.into(),
        }
    }
}

fn failure<E>(
    operation: &'static str,
    error: &aws_sdk_codecommit::error::SdkError<E>,
) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or_default()
        ),
        None => DisplayErrorContext(error).to_string(),
    };
    SourceError { operation, detail }
}

impl TemplateSource for CodeCommitSource {
    async fn head(&self) -> Result<String, SourceError> {
        let output = self
            .client
            .get_branch()
            .repository_name(&self.repository)
            .branch_name(&self.branch)
            .send()
            .await
            .map_err(|error| failure("GetBranch", &error))?;
        output
            .branch()
            .and_then(|branch| branch.commit_id())
            .map(str::to_owned)
            .ok_or_else(|| SourceError {
                operation: "GetBranch",
                detail: format!("branch {:?} has no commit", self.branch),
            })
    }

    async fn list(&self, commit: &str, folder: &str) -> Result<Option<Listing>, SourceError> {
        let folder_path = if folder.is_empty() { "/" } else { folder };
        let output = match self
            .client
            .get_folder()
            .repository_name(&self.repository)
            .commit_specifier(commit)
            .folder_path(folder_path)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_folder_does_not_exist_exception()) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(failure("GetFolder", &error)),
        };
        Ok(Some(Listing {
            files: output
                .files()
                .iter()
                .filter_map(|f| f.absolute_path().map(str::to_owned))
                .collect(),
            folders: output
                .sub_folders()
                .iter()
                .filter_map(|f| f.absolute_path().map(str::to_owned))
                .collect(),
        }))
    }

    async fn file(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match self
            .client
            .get_file()
            .repository_name(&self.repository)
            .commit_specifier(commit)
            .file_path(path)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.file_content().as_ref().to_vec())),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_file_does_not_exist_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(failure("GetFile", &error)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use aws_sdk_codecommit::operation::get_branch::GetBranchOutput;
    use aws_sdk_codecommit::operation::get_file::{GetFileError, GetFileOutput};
    use aws_sdk_codecommit::operation::get_folder::GetFolderOutput;
    use aws_sdk_codecommit::types::error::FileDoesNotExistException;
    use aws_sdk_codecommit::types::{BranchInfo, File, FileModeTypeEnum, Folder};
    use aws_sdk_codecommit::{Client, primitives::Blob};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    /// An in-memory repository whose head can move and which can be made unreachable (`down`:
    /// every call fails) or unresponsive (`hang`, shared so a test can flip it once the source
    /// is inside a cache: every call waits forever, as behind a black-holed endpoint).
    pub(crate) struct FakeSource {
        pub files: Mutex<BTreeMap<String, String>>,
        pub head: Mutex<String>,
        pub down: AtomicBool,
        pub hang: Arc<AtomicBool>,
        pub calls: AtomicU32,
    }

    impl FakeSource {
        pub(crate) fn with_files(files: &[(&str, &str)]) -> Self {
            Self {
                files: Mutex::new(
                    files
                        .iter()
                        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
                        .collect(),
                ),
                head: Mutex::new("c1".to_owned()),
                down: AtomicBool::new(false),
                hang: Arc::default(),
                calls: AtomicU32::new(0),
            }
        }

        async fn call(&self, operation: &'static str) -> Result<(), SourceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.down.load(Ordering::SeqCst) {
                Err(SourceError {
                    operation,
                    detail: "ServiceUnavailable: down".into(),
                })
            } else {
                Ok(())
            }
        }
    }

    impl TemplateSource for FakeSource {
        async fn head(&self) -> Result<String, SourceError> {
            self.call("GetBranch").await?;
            Ok(self.head.lock().unwrap().clone())
        }

        async fn list(&self, _commit: &str, folder: &str) -> Result<Option<Listing>, SourceError> {
            self.call("GetFolder").await?;
            let prefix = if folder.is_empty() {
                String::new()
            } else {
                format!("{folder}/")
            };
            let files = self.files.lock().unwrap();
            let mut listing = Listing::default();
            for path in files.keys().filter_map(|p| p.strip_prefix(&prefix)) {
                match path.split_once('/') {
                    None => listing.files.push(format!("{prefix}{path}")),
                    Some((sub, _)) => {
                        let sub = format!("{prefix}{sub}");
                        if !listing.folders.contains(&sub) {
                            listing.folders.push(sub);
                        }
                    }
                }
            }
            Ok((!listing.files.is_empty() || !listing.folders.is_empty()).then_some(listing))
        }

        async fn file(&self, _commit: &str, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
            self.call("GetFile").await?;
            Ok(self
                .files
                .lock()
                .unwrap()
                .get(path)
                .map(|s| s.clone().into_bytes()))
        }
    }

    fn source(client: Client) -> CodeCommitSource {
        CodeCommitSource::new(client, "templates-repo", "main")
    }

    #[tokio::test]
    async fn the_sdk_source_reads_head_folders_and_files() {
        let branch = mock!(Client::get_branch)
            .match_requests(|r| {
                r.repository_name() == Some("templates-repo") && r.branch_name() == Some("main")
            })
            .then_output(|| {
                GetBranchOutput::builder()
                    .branch(BranchInfo::builder().commit_id("abc123").build())
                    .build()
            });
        let folder = mock!(Client::get_folder)
            .match_requests(|r| {
                r.folder_path() == Some("templates") && r.commit_specifier() == Some("abc123")
            })
            .then_output(|| {
                GetFolderOutput::builder()
                    .commit_id("abc123")
                    .folder_path("templates")
                    .files(
                        File::builder()
                            .absolute_path("templates/a.html")
                            .relative_path("a.html")
                            .file_mode(FileModeTypeEnum::Normal)
                            .build(),
                    )
                    .sub_folders(
                        Folder::builder()
                            .absolute_path("templates/partials")
                            .build(),
                    )
                    .build()
                    .unwrap()
            });
        let file = mock!(Client::get_file)
            .match_requests(|r| r.file_path() == Some("templates/a.html"))
            .then_output(|| {
                GetFileOutput::builder()
                    .commit_id("abc123")
                    .blob_id("b1")
                    .file_path("templates/a.html")
                    .file_mode(FileModeTypeEnum::Normal)
                    .file_size(5)
                    .file_content(Blob::new("<p/>"))
                    .build()
                    .unwrap()
            });
        let missing = mock!(Client::get_file)
            .match_requests(|r| r.file_path() == Some("routes.json"))
            .then_error(|| {
                GetFileError::FileDoesNotExistException(
                    FileDoesNotExistException::builder()
                        .message("no such file")
                        .build(),
                )
            });
        let client = mock_client!(
            aws_sdk_codecommit,
            RuleMode::MatchAny,
            [&branch, &folder, &file, &missing]
        );
        let source = source(client);
        assert_eq!(source.head().await.unwrap(), "abc123");
        let listing = source.list("abc123", "templates").await.unwrap().unwrap();
        assert_eq!(listing.files, ["templates/a.html"]);
        assert_eq!(listing.folders, ["templates/partials"]);
        assert_eq!(
            source
                .file("abc123", "templates/a.html")
                .await
                .unwrap()
                .unwrap(),
            b"<p/>"
        );
        assert_eq!(
            source.file("abc123", "routes.json").await.unwrap(),
            None,
            "a missing file is not an error"
        );
    }

    #[tokio::test]
    async fn service_errors_name_the_operation_and_the_code() {
        let branch = mock!(Client::get_branch).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"RepositoryDoesNotExistException","message":"templates-repo does not exist"}"#,
                ),
            )
        });
        let client = mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, [&branch]);
        let error = source(client).head().await.unwrap_err();
        assert_eq!(error.operation, "GetBranch");
        assert!(
            error
                .detail
                .starts_with("RepositoryDoesNotExistException: templates-repo"),
            "{error}"
        );
    }
}
