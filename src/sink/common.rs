//! What several sinks do alike: end the tests a cut-short stream left
//! running, and write out their text.

use super::Output;
use crate::model::{Status, TestEnd};
use crate::text::{safe_text, Ansi};
use std::io;

/// The message of a test that never ended.
const NO_RESULT: &str = "no result: the log ends before the test did";

/// The result given to a test still running when the stream ends: an
/// unexpected ERROR.
pub(crate) fn unfinished(test: &str) -> TestEnd {
    let mut end = TestEnd::new(test, Status::Error);
    end.set_expected(Status::Pass);
    end.message = Some(NO_RESULT.to_string());
    end
}

/// Ends the tests a cut-short stream left running, as `(start time, test,
/// what else the sink keeps of it)`, in the order they started (ties by
/// id: a map's order is random).
pub(crate) fn end_unfinished<T>(
    running: impl IntoIterator<Item = (u64, String, T)>,
    mut end: impl FnMut(TestEnd, T),
) {
    let mut running: Vec<(u64, String, T)> = running.into_iter().collect();
    running.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (_, test, kept) in running {
        end(unfinished(&test), kept);
    }
}

/// Writes out a text sink's pending text, made safe for a terminal or a
/// log viewer, and empties it.
pub(crate) fn write_text(out: &mut Output, text: &mut String, ansi: Ansi) -> io::Result<()> {
    if !text.is_empty() {
        out.write_all(safe_text(text, ansi).as_bytes())?;
        text.clear();
    }
    Ok(())
}
