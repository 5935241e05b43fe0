//! What reads the run record (`report.json`, [`weft_record`]) for people and
//! tools: the Prometheus exposition of a run with its Pushgateway push
//! ([`exposition`]), and the self-contained HTML page ([`page`]).

pub mod exposition;
pub mod page;
