//! Templates and routes from a CodeCommit repository, loaded once and cached across invocations.
//!
//! * [`source`]: the [`TemplateSource`] trait (GetBranch, GetFolder, GetFile) and its CodeCommit
//!   implementation.
//! * [`loader`]: one commit's routes file and templates, compiled into a [`mailroom_core::Mailroom`].
//! * [`cache`]: the loaded commit kept between invocations, refreshed when the branch head moves.
//!
//! Which files are loaded: every template-like file under the template folder, found by
//! listing it with GetFolder recursively. Following `{% include %}` and `{% extends %}` from the
//! route templates instead would need a template parser in the host and would still miss
//! includes whose name is computed at run time; a listing costs one call per folder and loads
//! exactly what an author sees in the repository.

pub mod cache;
pub mod loader;
pub mod source;

pub use cache::{CacheLookup, TemplateCache};
pub use loader::{LoadError, LoadOptions, Loaded};
pub use source::{CodeCommitSource, Listing, SourceError, TemplateSource};
