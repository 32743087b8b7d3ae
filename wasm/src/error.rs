//! The one error shape that crosses into JavaScript.
//!
//! Every failure leaves the module as a JSON object `{kind, message, fault?, lookups?}`; the JavaScript
//! wrapper turns it into a `MailroomError`. Keeping the shape in one place means a caller
//! sees the same fields whatever went wrong, and the module never traps on bad input.

use mailroom_core::preview::PreviewLookup;
use mailroom_core::{ConfigError, EventError, MessageFault, PreviewError, TemplateFault};
use serde::Serialize;

/// Why a call could not be completed: what the caller passed in, or what we cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The configuration (routes file or variables) is unusable.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The Lambda event or record cannot be read.
    #[error("{0}")]
    Event(#[from] EventError),
    /// The sample data for a rendering is unusable.
    #[error("sample data: {0}")]
    Data(MessageFault),
    /// A template does not compile or failed to render.
    #[error("{0}")]
    Template(TemplateFault),
    /// An argument has the wrong shape (not the JSON the API describes, a bad number).
    #[error("{argument}: {message}")]
    Input {
        /// Which argument.
        argument: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The call does not fit the batch's state (it was already finished, or an id it never
    /// handed out, or an answer given twice).
    #[error("{0}")]
    Batch(String),
    /// Our side could not encode a result; never expected, reported rather than trapped.
    #[error("could not encode the result: {0}")]
    Encode(String),
    /// A preview that failed after its lookups were read (a template reads a lookup that was not
    /// found): the failure, with what each lookup answered, so an authoring tool can still show
    /// them and let the author change one.
    #[error("{error}")]
    WithLookups {
        /// The failure.
        error: Box<AdapterError>,
        /// The lookups asked, in order, with their answers.
        lookups: Vec<PreviewLookup>,
    },
}

impl From<mailroom_core::BatchError> for AdapterError {
    fn from(error: mailroom_core::BatchError) -> Self {
        Self::Batch(error.to_string())
    }
}

impl From<PreviewError> for AdapterError {
    fn from(error: PreviewError) -> Self {
        match error {
            PreviewError::Data(fault) => Self::Data(fault),
            PreviewError::Template(fault) => Self::Template(fault),
        }
    }
}

impl AdapterError {
    /// An argument that is not the JSON it should be.
    pub(crate) fn input(argument: &'static str, error: &serde_json::Error) -> Self {
        Self::Input {
            argument,
            message: error.to_string(),
        }
    }

    /// The stable category name JavaScript sees as `error.kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Event(_) => "event",
            Self::Data(_) => "data",
            Self::Template(_) => "template",
            Self::Input { .. } => "input",
            Self::Batch(_) => "batch",
            Self::Encode(_) => "internal",
            Self::WithLookups { error, .. } => error.kind(),
        }
    }

    /// `{"kind": ..., "message": ..., "fault": {...}, "lookups": [...]}`, the JSON the wrapper
    /// parses.
    #[must_use]
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            kind: &'static str,
            message: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            fault: Option<&'a TemplateFault>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            lookups: &'a [PreviewLookup],
        }
        let (inner, lookups) = match self {
            Self::WithLookups { error, lookups } => (&**error, lookups.as_slice()),
            other => (other, &[][..]),
        };
        let fault = match inner {
            Self::Template(fault) => Some(fault),
            _ => None,
        };
        let wire = Wire {
            kind: self.kind(),
            message: self.to_string(),
            fault,
            lookups,
        };
        serde_json::to_string(&wire).unwrap_or_else(|_| {
            format!(
                r#"{{"kind":"internal","message":{:?}}}"#,
                "the error could not be encoded"
            )
        })
    }
}

/// Serializes a result, reporting (not trapping on) the impossible failure.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, AdapterError> {
    serde_json::to_string(value).map_err(|error| AdapterError::Encode(error.to_string()))
}
