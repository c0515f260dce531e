//! Standard output that a closed pipe cannot crash.
//!
//! Rust ignores `SIGPIPE`, so when the reader of a pipe goes away
//! (`replikv partitions | head -1`) the next write to stdout fails with
//! `BrokenPipe`, and `println!` turns that failure into a panic and exit code
//! 101. Every subcommand prints through [`Stdout::line`] instead: once the
//! reader is gone the rest of the output is dropped without a word, and the
//! command ends with the exit code it would have had (`check` still reports
//! its verdict in the exit code).

use replikv::{Error, Result};
use std::fmt::Display;
use std::io::{ErrorKind, Write};

/// Standard output, or nothing once its reader has gone.
#[derive(Debug, Default)]
pub struct Stdout {
    /// Set by the first write that found the pipe closed.
    closed: bool,
}

impl Stdout {
    /// Writes `text` and a newline, and flushes. A closed pipe is not an
    /// error: it ends the output. Any other failure is.
    pub fn line(&mut self, text: impl Display) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|()| out.flush()) {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other.map_err(Error::from),
        }
    }
}
