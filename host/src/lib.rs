//! The `weft` binary's commands: a thin layer of clap over the engine
//! ([`weft_engine`]), the operator ([`weft_operator`]), the server
//! ([`weft_serve`]) and the readers of the run record ([`weft_report`]).

pub mod cli;
