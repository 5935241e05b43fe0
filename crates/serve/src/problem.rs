//! Answers other than success: a status and a message a client can act on
//! (`{"error": ..., "step": ..., "location": ...}`, the last two when
//! known).

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::codec::BadBody;
use weft_engine::exec::{Failure, RunError};
use weft_manifest::Location;

/// An answer other than success: status and message (and step, if one failed).
#[derive(Debug, Clone)]
pub(super) struct Problem {
    pub(super) status: StatusCode,
    pub(super) message: String,
    pub(super) step: Option<String>,
    /// Where in the manifest the problem is.
    pub(super) location: Option<Location>,
}

impl Problem {
    /// A problem answered with `status`.
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem {
            status,
            message: message.into(),
            step: None,
            location: None,
        }
    }

    /// The request ran past its deadline of `deadline` (and was stopped).
    pub(super) fn late(deadline: Duration) -> Problem {
        Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the request took longer than its deadline of {deadline:?} (--timeout) and was stopped"),
        )
    }
}

impl From<BadBody> for Problem {
    fn from(e: BadBody) -> Problem {
        Problem::new(e.status(), e.to_string())
    }
}

impl From<RunError> for Problem {
    fn from(e: RunError) -> Problem {
        let status = match &e {
            RunError::Step(f)
                if matches!(
                    f.failure,
                    Failure::InvalidInput(_) | Failure::InvalidConfig(_)
                ) =>
            {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            RunError::Invalid(_) | RunError::Manifest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let step = match &e {
            RunError::Step(f) => Some(f.step.clone()),
            _ => None,
        };
        Problem {
            status,
            location: e.location(),
            message: e.to_string(),
            step,
        }
    }
}

impl Problem {
    /// The answer's body: `{"error", "step"}`, and `location` when known.
    pub(super) fn to_json(&self) -> serde_json::Value {
        let mut body = json!({ "error": self.message, "step": self.step });
        if let Some(location) = &self.location {
            body["location"] = json!(location);
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.to_json();
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
