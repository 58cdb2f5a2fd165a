//! Writing an entry as a raw-log line: mozlog's field order, the common
//! fields first.

use super::*;

/// The fields every entry has, in mozlog's order: the head of its line.
#[derive(Serialize)]
struct Head<'a> {
    action: &'a str,
    time: u64,
    thread: &'a str,
    pid: i64,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
}

/// The output of an action's fields, serialized after the head of the
/// line was written without its closing brace: the fields' opening `{` is
/// dropped and a comma goes before their first key (an empty `{}` just
/// closes the head). Each part is serialized as a plain struct or map,
/// straight to the output, where serde's `flatten` would go through a map
/// serializer field by field.
struct AfterHead<W> {
    out: W,
    state: AfterHeadState,
}

#[derive(Clone, Copy)]
enum AfterHeadState {
    /// The fields' `{` comes next.
    Start,
    /// A `}` (no fields) or the first key comes next.
    Opened,
    /// Inside the fields.
    Inside,
}

impl<W: io::Write> io::Write for AfterHead<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while let Some((&first, rest)) = buf.split_first() {
            match self.state {
                AfterHeadState::Inside => return self.out.write_all(buf),
                AfterHeadState::Start => {
                    debug_assert_eq!(first, b'{');
                    self.state = AfterHeadState::Opened;
                    buf = rest;
                }
                AfterHeadState::Opened => {
                    if first != b'}' {
                        self.out.write_all(b",")?;
                    }
                    self.state = AfterHeadState::Inside;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[derive(Serialize)]
struct NoFields {}

impl Entry {
    /// Writes the entry as one line of JSON (without the newline).
    pub fn write_json<W: io::Write>(&self, out: W) -> io::Result<()> {
        fn put<W: io::Write, T: Serialize>(e: &Entry, out: W, fields: &T) -> io::Result<()> {
            let head = Head {
                action: e.action.name(),
                time: e.time,
                thread: &e.thread,
                pid: e.pid,
                source: &e.source,
                component: e.component.as_deref(),
            };
            // The head goes to a buffer of its own first (it is short), to
            // be written without its closing brace.
            let mut head_json = Vec::with_capacity(128);
            serde_json::to_writer(&mut head_json, &head).map_err(io::Error::from)?;
            let mut out = AfterHead {
                out,
                state: AfterHeadState::Start,
            };
            out.out.write_all(&head_json[..head_json.len() - 1])?;
            serde_json::to_writer(&mut out, fields).map_err(io::Error::from)
        }
        match &self.action {
            Action::SuiteStart(f) => put(self, out, f),
            Action::SuiteEnd(f) => put(self, out, f),
            Action::TestStart(f) => put(self, out, f),
            Action::TestStatus(f) => put(self, out, f),
            Action::TestEnd(f) => put(self, out, f),
            Action::ProcessOutput(f) => put(self, out, f),
            Action::Log(f) => put(self, out, f),
            Action::Crash(f) => put(self, out, f),
            Action::ProcessStart(f) => put(self, out, f),
            Action::ProcessExit(f) => put(self, out, f),
            Action::GroupStart(f) | Action::GroupEnd(f) | Action::AddSubsuite(f) => {
                put(self, out, f)
            }
            Action::Shutdown => put(self, out, &NoFields {}),
            Action::Other { fields, .. } => put(self, out, fields),
        }
    }

    /// The entry as a JSON line (without the newline).
    pub fn to_json(&self) -> String {
        let mut v = Vec::with_capacity(256);
        self.write_json(&mut v)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(v).expect("serde_json writes UTF-8")
    }
}
