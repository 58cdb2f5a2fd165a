//! Reading a raw-log line into an entry: one serde pass over every field
//! any action may carry, with visitors that check what they do not keep.

use super::*;

/// Why a raw-log line could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// Not a JSON object, or a field of the wrong type.
    Json(String),
    /// A field the action requires is absent.
    Missing { action: String, field: &'static str },
    /// A status or level that mozlog does not know.
    BadValue { field: &'static str, value: String },
    /// An action mozlog does not know.
    UnknownAction(String),
    /// A line longer than a reader keeps (its length so far, in bytes).
    TooLong(u64),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Json(e) => write!(f, "not a valid entry: {e}"),
            ParseError::Missing { action, field } => {
                write!(f, "{action} entry lacks the field {field:?}")
            }
            ParseError::BadValue { field, value } => {
                write!(f, "field {field:?} has an unknown value {value:?}")
            }
            ParseError::UnknownAction(a) => write!(f, "unknown action {a:?}"),
            ParseError::TooLong(n) => write!(
                f,
                "a line of {} MiB or more, longer than the {} MiB a line may have: skipped",
                n >> 20,
                super::MAX_LINE >> 20
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// mozlog's `TestId`: a string, or a list of strings (reftests), joined.
/// Read by a visitor of its own: serde's untagged enums buffer each value
/// before trying the variants, and nearly every entry has a test id.
pub(super) struct TestId(pub(super) String);

impl<'de> Deserialize<'de> for TestId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TestId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test id (a string, or a list of strings)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TestId, E> {
                Ok(TestId(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TestId, E> {
                Ok(TestId(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TestId, A::Error> {
                let mut id = String::new();
                while let Some(part) = seq.next_element::<Cow<'de, str>>()? {
                    id.push_str(&part);
                }
                Ok(TestId(id))
            }
        }
        d.deserialize_any(V)
    }
}

/// mozlog's `TestList`: tests keyed by group, or a plain list (filed under
/// the group `"default"`, as mozlog files it).
pub(super) struct TestList(pub(super) TestGroups);

impl<'de> Deserialize<'de> for TestList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TestList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the tests: lists of test ids keyed by group, or one list")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TestList, A::Error> {
                let mut groups = TestGroups::new();
                while let Some((group, ids)) = map.next_entry::<String, Vec<TestId>>()? {
                    groups.insert(group, ids.into_iter().map(|t| t.0).collect());
                }
                Ok(TestList(groups))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TestList, A::Error> {
                let mut ids = Vec::new();
                while let Some(t) = seq.next_element::<TestId>()? {
                    ids.push(t.0);
                }
                let mut groups = TestGroups::new();
                groups.insert("default".to_string(), ids);
                Ok(TestList(groups))
            }
        }
        d.deserialize_any(V)
    }
}

/// Walks a `TestList`, giving each group and id to a callback.
pub(super) struct EachTest<'f>(pub(super) &'f mut dyn FnMut(&str, Option<&str>));

impl<'de> serde::de::Visitor<'de> for EachTest<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the tests: lists of test ids keyed by group, or one list")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(group) = map.next_key::<Cow<'de, str>>()? {
            (self.0)(&group, None);
            map.next_value_seed(EachId(&group, &mut *self.0))?;
        }
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        (self.0)("default", None);
        EachId("default", self.0).visit_seq(seq)
    }
}

/// The ids of one group, given to a callback.
pub(super) struct EachId<'g, 'f>(pub(super) &'g str, &'f mut dyn FnMut(&str, Option<&str>));

impl<'de> serde::de::DeserializeSeed<'de> for EachId<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EachId<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of test ids")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(id) = seq.next_element::<IdText>()? {
            (self.1)(self.0, Some(&id.0));
        }
        Ok(())
    }
}

/// A test id as [`TestId`] reads it, borrowed from the text when it can be.
pub(super) struct IdText<'a>(pub(super) Cow<'a, str>);

impl<'de> Deserialize<'de> for IdText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = IdText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test id (a string, or a list of strings)")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<IdText<'de>, E> {
                Ok(IdText(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdText<'de>, E> {
                Ok(IdText(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<IdText<'de>, A::Error> {
                TestId::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(|id| IdText(Cow::Owned(id.0)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A test id, checked but not kept: a string, or a list of strings.
pub(super) struct CheckId;

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CheckId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test id (a string, or a list of strings)")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<CheckId, E> {
                Ok(CheckId)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CheckId, A::Error> {
                while seq.next_element::<Cow<'de, str>>()?.is_some() {}
                Ok(CheckId)
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of test ids, counted and checked without keeping them.
pub(super) struct CountIds(pub(super) usize);

impl<'de> Deserialize<'de> for CountIds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CountIds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of test ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CountIds, A::Error> {
                let mut n = 0;
                while seq.next_element::<CheckId>()?.is_some() {
                    n += 1;
                }
                Ok(CountIds(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A `TestList` checked and counted, allocating nothing.
pub(super) struct CountTests(pub(super) usize);

impl<'de> Deserialize<'de> for CountTests {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CountTests;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the tests: lists of test ids keyed by group, or one list")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<CountTests, A::Error> {
                let mut n = 0;
                while let Some((_, ids)) = map.next_entry::<serde::de::IgnoredAny, CountIds>()? {
                    n += ids.0;
                }
                Ok(CountTests(n))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CountTests, A::Error> {
                let mut n = 0;
                while seq.next_element::<CheckId>()?.is_some() {
                    n += 1;
                }
                Ok(CountTests(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `process` field: mozlog writes the pid as a string, some producers as a
/// number.
pub(super) struct ProcessId(pub(super) String);

impl<'de> Deserialize<'de> for ProcessId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ProcessId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a process id (a string or a number)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ProcessId, E> {
                Ok(ProcessId(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A suite's test list as it stands in the line, and its number of tests
/// when it was counted as it was read.
pub(super) struct TestsText<'a> {
    pub(super) json: &'a str,
    pub(super) count: Option<usize>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TestsText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&serde_json::value::RawValue>::deserialize(d)?;
        Ok(TestsText {
            json: raw.get(),
            count: None,
        })
    }
}

/// Every field any action may carry, all optional: one pass of serde over the
/// line whatever the key order, then [`Fields::into_entry`] checks what the
/// action requires. Short enumerated values, and a suite's test list, are
/// borrowed from the line.
#[derive(Deserialize, Default)]
pub(super) struct Fields<'a> {
    #[serde(borrow)]
    pub(super) action: Cow<'a, str>,
    pub(super) time: Option<u64>,
    pub(super) thread: Option<String>,
    pub(super) pid: Option<i64>,
    pub(super) source: Option<String>,
    pub(super) component: Option<String>,
    #[serde(borrow)]
    pub(super) tests: Option<TestsText<'a>>,
    pub(super) name: Option<String>,
    pub(super) run_info: Option<Map<String, Value>>,
    pub(super) version_info: Option<Map<String, Value>>,
    pub(super) device_info: Option<Map<String, Value>>,
    pub(super) extra: Option<Map<String, Value>>,
    pub(super) test: Option<TestId>,
    pub(super) path: Option<String>,
    pub(super) subsuite: Option<String>,
    pub(super) group: Option<String>,
    pub(super) subtest: Option<String>,
    #[serde(borrow)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) expected: Option<Cow<'a, str>>,
    pub(super) message: Option<String>,
    pub(super) stack: Option<String>,
    #[serde(borrow)]
    pub(super) known_intermittent: Option<Vec<Cow<'a, str>>>,
    pub(super) process: Option<ProcessId>,
    pub(super) data: Option<String>,
    pub(super) command: Option<String>,
    #[serde(borrow)]
    pub(super) level: Option<Cow<'a, str>>,
    pub(super) signature: Option<String>,
    pub(super) minidump_path: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) process_type: Option<String>,
    pub(super) stackwalk_stdout: Option<String>,
    pub(super) stackwalk_stderr: Option<String>,
    pub(super) stackwalk_returncode: Option<i64>,
    pub(super) stackwalk_errors: Option<Vec<String>>,
    pub(super) java_stack: Option<String>,
    pub(super) quiet: Option<bool>,
    pub(super) exitcode: Option<i64>,
}

pub(super) fn status_field(field: &'static str, s: &str) -> Result<Status, ParseError> {
    Status::parse(s).ok_or_else(|| ParseError::BadValue {
        field,
        value: s.to_string(),
    })
}

impl Fields<'_> {
    /// The entry, its fields checked. With `deferred`, a suite_start's test
    /// list is left for the caller to fill in.
    pub(super) fn into_entry(self, line: &[u8], deferred: Option<()>) -> Result<Entry, ParseError> {
        let action_name = self.action;
        let missing = |field: &'static str| ParseError::Missing {
            action: action_name.to_string(),
            field,
        };
        let time = self.time.ok_or_else(|| missing("time"))?;
        let action = match &*action_name {
            "suite_start" => Action::SuiteStart(SuiteStart {
                tests: {
                    let list = self.tests.ok_or_else(|| missing("tests"))?;
                    if deferred.is_some() {
                        Tests::default()
                    } else {
                        Tests::from_json(list.json.to_string(), 0..list.json.len(), list.count)
                            .map_err(|e| ParseError::Json(format!("tests: {e}")))?
                    }
                },
                name: self.name,
                run_info: self.run_info,
                version_info: self.version_info,
                device_info: self.device_info,
                extra: self.extra,
            }),
            "suite_end" => Action::SuiteEnd(SuiteEnd { extra: self.extra }),
            "test_start" => Action::TestStart(TestStart {
                test: self.test.ok_or_else(|| missing("test"))?.0,
                path: self.path,
                subsuite: self.subsuite,
                group: self.group,
            }),
            "test_status" | "test_end" => {
                let test = self.test.ok_or_else(|| missing("test"))?.0;
                let status =
                    status_field("status", &self.status.ok_or_else(|| missing("status"))?)?;
                let mut expected = match self.expected {
                    Some(e) => Some(status_field("expected", &e)?),
                    None => None,
                };
                if expected == Some(status) || status == Status::Skip {
                    expected = None;
                }
                let known_intermittent = self
                    .known_intermittent
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| status_field("known_intermittent", &s))
                    .collect::<Result<Vec<_>, _>>()?;
                if action_name == "test_end" {
                    Action::TestEnd(TestEnd {
                        test,
                        status,
                        expected,
                        message: self.message,
                        stack: self.stack,
                        extra: self.extra,
                        known_intermittent,
                        subsuite: self.subsuite,
                        group: self.group,
                    })
                } else {
                    Action::TestStatus(TestStatus {
                        test,
                        subtest: self.subtest.ok_or_else(|| missing("subtest"))?,
                        status,
                        expected,
                        message: self.message,
                        stack: self.stack,
                        extra: self.extra,
                        known_intermittent,
                        subsuite: self.subsuite,
                        group: self.group,
                    })
                }
            }
            "process_output" => Action::ProcessOutput(ProcessOutput {
                process: self.process.ok_or_else(|| missing("process"))?.0,
                data: self.data.ok_or_else(|| missing("data"))?,
                command: self.command,
                test: self.test.map(|t: TestId| t.0),
                subsuite: self.subsuite,
            }),
            "log" => {
                let level = self.level.ok_or_else(|| missing("level"))?;
                Action::Log(Log {
                    level: Level::parse(&level).ok_or_else(|| ParseError::BadValue {
                        field: "level",
                        value: level.to_string(),
                    })?,
                    message: self.message.ok_or_else(|| missing("message"))?,
                    stack: self.stack,
                })
            }
            "crash" => Action::Crash(Crash {
                process: self.process.map(|p| p.0),
                signature: self.signature.unwrap_or_else(|| "[Unknown]".to_string()),
                test: self.test.map(|t: TestId| t.0),
                minidump_path: self.minidump_path,
                reason: self.reason,
                process_type: self.process_type,
                stackwalk_stdout: self.stackwalk_stdout,
                stackwalk_stderr: self.stackwalk_stderr,
                stackwalk_returncode: self.stackwalk_returncode,
                stackwalk_errors: self.stackwalk_errors.unwrap_or_default(),
                java_stack: self.java_stack,
                subsuite: self.subsuite,
                quiet: self.quiet.unwrap_or(false),
            }),
            "process_start" => Action::ProcessStart(ProcessStart {
                process: self.process.ok_or_else(|| missing("process"))?.0,
                command: self.command,
                subsuite: self.subsuite,
            }),
            "process_exit" => Action::ProcessExit(ProcessExit {
                process: self.process.ok_or_else(|| missing("process"))?.0,
                exitcode: self.exitcode.ok_or_else(|| missing("exitcode"))?,
                command: self.command,
                subsuite: self.subsuite,
            }),
            "group_start" | "group_end" | "add_subsuite" => {
                let named = Named {
                    name: self.name.ok_or_else(|| missing("name"))?,
                    extra: self.extra,
                    run_info: self.run_info,
                };
                match &*action_name {
                    "group_start" => Action::GroupStart(named),
                    "group_end" => Action::GroupEnd(named),
                    _ => Action::AddSubsuite(named),
                }
            }
            "shutdown" => Action::Shutdown,
            other if OTHER_ACTIONS.contains(&other) => {
                // Rare actions keep every field: parse the line again as a map.
                let mut fields: Map<String, Value> =
                    serde_json::from_slice(line).map_err(|e| ParseError::Json(e.to_string()))?;
                for common in ["action", "time", "thread", "pid", "source", "component"] {
                    fields.remove(common);
                }
                Action::Other {
                    action: other.to_string(),
                    fields,
                }
            }
            _ => return Err(ParseError::UnknownAction(action_name.to_string())),
        };
        Ok(Entry {
            time,
            thread: self.thread.unwrap_or_default(),
            pid: self.pid.unwrap_or(0),
            source: self.source.unwrap_or_default(),
            component: self.component,
            action,
        })
    }
}

impl Entry {
    /// Reads one raw-log line: any mozlog producer's entry.
    pub fn from_json(line: &[u8]) -> Result<Entry, ParseError> {
        // The line is checked for UTF-8 once, whole: from a `&str`, serde_json
        // does not check each string it reads again.
        let text =
            std::str::from_utf8(line).map_err(|e| ParseError::Json(format!("not UTF-8: {e}")))?;
        let mut fields = Fields::default();
        if scan::fill(text, &mut fields).is_none() {
            fields = serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
        }
        fields.into_entry(line, None)
    }

    /// Like [`Entry::from_json`], for a line the entry may keep: a
    /// `suite_start`'s test list stays in it rather than a copy (a large
    /// run's list is tens of megabytes).
    pub fn from_json_owned(line: Vec<u8>) -> Result<Entry, ParseError> {
        let text = String::from_utf8(line)
            .map_err(|e| ParseError::Json(format!("not UTF-8: {}", e.utf8_error())))?;
        let (entry, list) = {
            let fields = match scan::fields(&text) {
                Some(fields) => fields,
                None => serde_json::from_str(&text).map_err(|e| ParseError::Json(e.to_string()))?,
            };
            let list = fields.tests.as_ref().map(|list| {
                let start = list.json.as_ptr() as usize - text.as_ptr() as usize;
                (start..start + list.json.len(), list.count)
            });
            (fields.into_entry(text.as_bytes(), Some(())), list)
        };
        let mut entry = entry?;
        if let (Action::SuiteStart(s), Some((range, count))) = (&mut entry.action, list) {
            s.tests = Tests::from_json(text, range, count)
                .map_err(|e| ParseError::Json(format!("tests: {e}")))?;
        }
        Ok(entry)
    }
}
