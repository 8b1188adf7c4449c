//! Parsers for recorded histories (the formats of testdata/porcupine, see its
//! README): Jepsen logs of a compare-and-set register, and EDN maps of
//! key/value operations. A malformed line is an error naming file and line.

use super::history::{EventRecorder, Operation, SequenceError};
use super::models::{KvInput, KvOutput, RegisterInput, RegisterOutput};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A history file that could not be read or parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: PathBuf,
    /// 1-based; 0 when the file itself could not be read.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

fn read(path: &Path) -> Result<String, ParseError> {
    std::fs::read_to_string(path).map_err(|e| ParseError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    })
}

/// Parses each line with `parse_line(recorder, text)`; errors get the place.
fn parse_lines<I, O>(
    path: &Path,
    text: &str,
    mut parse_line: impl FnMut(&mut EventRecorder<I, O>, &str) -> Result<(), String>,
) -> Result<Vec<Operation<I, O>>, ParseError> {
    let mut recorder = EventRecorder::default();
    for (i, line) in text.lines().enumerate() {
        parse_line(&mut recorder, line).map_err(|message| ParseError {
            file: path.to_path_buf(),
            line: i + 1,
            message,
        })?;
    }
    Ok(recorder.finish())
}

fn seq(e: SequenceError) -> String {
    e.to_string()
}

// ----- Jepsen register logs -----

const JEPSEN_MARK: &str = "jepsen.util -";

fn int(token: &str) -> Result<i64, String> {
    token.parse().map_err(|_| format!("expected an integer, found {token:?}"))
}

fn nil_or_int(token: &str) -> Result<Option<i64>, String> {
    if token == "nil" {
        Ok(None)
    } else {
        int(token).map(Some)
    }
}

fn cas_pair(rest: &str) -> Result<(i64, i64), String> {
    let inner = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("expected [FROM TO], found {rest:?}"))?;
    let mut parts = inner.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => Ok((int(a)?, int(b)?)),
        _ => Err(format!("expected [FROM TO], found {rest:?}")),
    }
}

fn jepsen_line(rec: &mut EventRecorder<RegisterInput, RegisterOutput>, line: &str) -> Result<(), String> {
    let Some(at) = line.find(JEPSEN_MARK) else { return Ok(()) }; // other log lines are noise
    let mut fields = line[at + JEPSEN_MARK.len()..].split_whitespace();
    let (Some(process), Some(kind), Some(f)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("expected PROCESS :TYPE :F VALUE after 'jepsen.util -'".into());
    };
    let value = fields.collect::<Vec<_>>().join(" ");
    let process: u64 = process.parse().map_err(|_| format!("expected a process number, found {process:?}"))?;
    let input = match f {
        ":read" => RegisterInput::Read,
        ":write" => RegisterInput::Write(0),
        ":cas" => RegisterInput::Cas { from: 0, to: 0 },
        other => return Err(format!("unknown operation {other:?} (expected :read, :write or :cas)")),
    };
    match kind {
        ":invoke" => {
            let input = match input {
                RegisterInput::Read if value == "nil" => RegisterInput::Read,
                RegisterInput::Read => return Err(format!("an invoked read carries nil, found {value:?}")),
                RegisterInput::Write(_) => RegisterInput::Write(int(&value)?),
                RegisterInput::Cas { .. } => {
                    let (from, to) = cas_pair(&value)?;
                    RegisterInput::Cas { from, to }
                }
            };
            rec.call(process, input).map_err(seq)
        }
        ":ok" | ":fail" => {
            let open = rec
                .open_input(process)
                .copied()
                .ok_or_else(|| seq(SequenceError::ReturnWithoutCall { client: process }))?;
            if std::mem::discriminant(&open) != std::mem::discriminant(&input) {
                return Err(format!("process {process} completes {f} but its open operation is {open:?}"));
            }
            let output = match (kind, open) {
                (":ok", RegisterInput::Read) => Some(RegisterOutput::Read(nil_or_int(&value)?)),
                (":ok", RegisterInput::Write(_)) => Some(RegisterOutput::Written),
                (_, RegisterInput::Cas { .. }) => Some(RegisterOutput::Cas(kind == ":ok")),
                // A failed read or write has no known outcome: a read that
                // timed out returned nothing; a failed write stays possible.
                (_, RegisterInput::Read) => None,
                (_, RegisterInput::Write(_)) => return rec.abandon(process).map_err(seq),
            };
            rec.ret(process, output).map(|_| ()).map_err(seq)
        }
        // The outcome is unknown: the operation stays pending forever.
        ":info" => rec.abandon(process).map_err(seq),
        other => Err(format!("unknown event type {other:?} (expected :invoke, :ok, :fail or :info)")),
    }
}

/// Parses a Jepsen log of a compare-and-set register.
pub fn parse_jepsen(path: &Path, text: &str) -> Result<Vec<Operation<RegisterInput, RegisterOutput>>, ParseError> {
    parse_lines(path, text, jepsen_line)
}

pub fn read_jepsen(path: &Path) -> Result<Vec<Operation<RegisterInput, RegisterOutput>>, ParseError> {
    parse_jepsen(path, &read(path)?)
}

// ----- EDN key/value histories -----

#[derive(Debug, PartialEq)]
enum Edn {
    Keyword(String),
    Str(String),
    Int(i64),
    Nil,
}

/// Tokens of one flat EDN map `{:k v, ...}`.
fn edn_map(line: &str) -> Result<Vec<(String, Edn)>, String> {
    let body = line
        .trim()
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| "expected one EDN map {...} per line".to_string())?;
    let mut chars = body.chars().peekable();
    let mut values = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let value = if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(other @ ('"' | '\\')) => s.push(other),
                        other => return Err(format!("unknown escape \\{}", other.map_or(String::new(), String::from))),
                    },
                    Some(other) => s.push(other),
                }
            }
            Edn::Str(s)
        } else {
            let mut token = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == ',' {
                    break;
                }
                token.push(c);
                chars.next();
            }
            if let Some(k) = token.strip_prefix(':') {
                Edn::Keyword(k.to_string())
            } else if token == "nil" {
                Edn::Nil
            } else {
                Edn::Int(token.parse().map_err(|_| format!("unexpected token {token:?}"))?)
            }
        };
        values.push(value);
    }
    if values.len() % 2 != 0 {
        return Err("a map needs an even number of forms".into());
    }
    let mut pairs = Vec::new();
    let mut it = values.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        match k {
            Edn::Keyword(k) => pairs.push((k, v)),
            other => return Err(format!("map keys must be keywords, found {other:?}")),
        }
    }
    Ok(pairs)
}

/// What reading a key/value history carries from line to line.
#[derive(Default)]
struct KvReader {
    /// The number of the line being read (1-based).
    line: usize,
    last_time: Option<u64>,
    /// Per key, the last value a get returned and its line: a later get's
    /// `:extends LINE` names it, and its `:value` is what follows it.
    last_read: HashMap<String, (usize, String)>,
}

impl KvReader {
    /// A get's returned value: `:value`, or with `:extends LINE` the value
    /// read at that line (the last read of the key) followed by `:value`.
    fn read_value(&mut self, key: &str, value: &str, extends: Option<&Edn>) -> Result<String, String> {
        let full = match extends {
            None => value.to_string(),
            Some(Edn::Int(line)) => match self.last_read.get(key) {
                Some((at, before)) if *at as i64 == *line => format!("{before}{value}"),
                _ => {
                    return Err(format!(
                        ":extends {line} names no earlier line where a get of key {key:?} returned its latest value"
                    ))
                }
            },
            Some(other) => return Err(format!(":extends must be a line number, found {other:?}")),
        };
        self.last_read.insert(key.to_string(), (self.line, full.clone()));
        Ok(full)
    }
}

fn kv_line(rec: &mut EventRecorder<KvInput, KvOutput>, line: &str, reader: &mut KvReader) -> Result<(), String> {
    reader.line += 1;
    if line.trim().is_empty() {
        return Ok(());
    }
    let pairs = edn_map(line)?;
    let last_time = &mut reader.last_time;
    // An optional :time (virtual nanoseconds, as `write_kv` records them);
    // without it, an event's time is its position in the file.
    let time = match pairs.iter().find(|(k, _)| k == "time").map(|(_, v)| v) {
        None => None,
        Some(Edn::Int(t)) if *t >= 0 && last_time.is_none_or(|last| *t as u64 >= last) => Some(*t as u64),
        Some(Edn::Int(t)) if *t >= 0 => {
            return Err(format!(":time {t} goes back (the last event was at {last_time:?})"))
        }
        Some(other) => return Err(format!(":time must be a non-negative integer, found {other:?}")),
    };
    if time.is_some() {
        *last_time = time;
    }
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v).ok_or(format!("missing :{name}"));
    let process = match field("process")? {
        Edn::Int(p) if *p >= 0 => *p as u64,
        other => return Err(format!(":process must be a non-negative integer, found {other:?}")),
    };
    let kind = match field("type")? {
        Edn::Keyword(k) => k.as_str(),
        other => return Err(format!(":type must be a keyword, found {other:?}")),
    };
    let f = match field("f")? {
        Edn::Keyword(k) if ["get", "put", "append"].contains(&k.as_str()) => k.as_str(),
        other => return Err(format!(":f must be :get, :put or :append, found {other:?}")),
    };
    let key = match field("key")? {
        Edn::Str(k) => k.clone(),
        other => return Err(format!(":key must be a string, found {other:?}")),
    };
    let value = field("value")?;
    match kind {
        "invoke" => {
            let input = match (f, value) {
                ("get", _) => KvInput::Get { key },
                ("put", Edn::Str(v)) => KvInput::Put { key, value: v.clone() },
                ("append", Edn::Str(v)) => KvInput::Append { key, value: v.clone() },
                (_, other) => return Err(format!("an invoked {f} needs a string :value, found {other:?}")),
            };
            match time {
                Some(t) => rec.call_at(process, input, t),
                None => rec.call(process, input),
            }
            .map_err(seq)
        }
        "ok" => {
            let open =
                rec.open_input(process).ok_or_else(|| seq(SequenceError::ReturnWithoutCall { client: process }))?;
            completes_open(process, open, f, &key, value)?;
            let extends = pairs.iter().find(|(k, _)| k == "extends").map(|(_, v)| v);
            let output = match (f, value) {
                ("get", Edn::Str(v)) => KvOutput::Value(reader.read_value(&key, v, extends)?),
                ("get", other) => return Err(format!("a completed get needs a string :value, found {other:?}")),
                _ => KvOutput::Done,
            };
            match time {
                Some(t) => rec.ret_at(process, Some(output), t),
                None => rec.ret(process, Some(output)),
            }
            .map(|_| ())
            .map_err(seq)
        }
        // Unknown outcome: pending forever.
        "info" | "fail" => rec.abandon(process).map_err(seq),
        other => Err(format!("unknown :type :{other} (expected :invoke, :ok, :info or :fail)")),
    }
}

/// Whether a completion (`f` on `key`, with `value`) is of the operation
/// `process` has open: the same kind, the same key, and for a write the
/// same value (or none). Anything else is bad input, never a verdict.
fn completes_open(process: u64, open: &KvInput, f: &str, key: &str, value: &Edn) -> Result<(), String> {
    let (open_f, written) = match open {
        KvInput::Get { .. } => ("get", None),
        KvInput::Put { value, .. } => ("put", Some(value)),
        KvInput::Append { value, .. } => ("append", Some(value)),
    };
    if open_f != f || open.key() != key {
        return Err(format!(
            "process {process} completes a {f} on key {key:?}, but the operation it has open is a {open_f} on key {:?}",
            open.key()
        ));
    }
    match (written, value) {
        (Some(invoked), Edn::Str(v)) if v != invoked => Err(format!(
            "process {process} completes a {f} of {v:?} on key {key:?}, but it invoked a {f} of {invoked:?}"
        )),
        _ => Ok(()),
    }
}

/// Parses a key/value history of EDN maps, one per line.
pub fn parse_kv(path: &Path, text: &str) -> Result<Vec<Operation<KvInput, KvOutput>>, ParseError> {
    let mut reader = KvReader::default();
    parse_lines(path, text, |rec, line| kv_line(rec, line, &mut reader))
}

/// Writes a key/value history in the format `parse_kv` reads: one EDN map
/// per event, in time order (at equal times calls first), each with its
/// `:time`. Operations that never returned have an invoke only. Values are
/// written once where they can be: a write's return carries no value (its
/// call has it), and a get that returns what the key's last get returned
/// and more says so (`:extends LINE`, and `:value` is the rest).
pub fn write_kv(history: &[Operation<KvInput, KvOutput>]) -> String {
    write_kv_served(history, None)
}

/// `write_kv`, with `:config N` on each return: the configuration (of a
/// sharded store) that the operation was served under, `served_under[i]`
/// for operation i. Readers ignore it.
pub fn write_kv_served(history: &[Operation<KvInput, KvOutput>], served_under: Option<&[Option<u64>]>) -> String {
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * history.len());
    for (i, op) in history.iter().enumerate() {
        events.push((op.call, false, i));
        if let Some(ret) = op.ret {
            events.push((ret, true, i));
        }
    }
    events.sort_unstable();
    let mut out = String::new();
    // Per key, the last value a get returned and the line that says it.
    let mut last_read: HashMap<&str, (usize, &str)> = HashMap::new();
    for (line, (time, is_return, i)) in events.into_iter().enumerate() {
        let line = line + 1;
        let op = &history[i];
        let (f, key, written) = match &op.input {
            KvInput::Get { key } => ("get", key, None),
            KvInput::Put { key, value } => ("put", key, Some(value)),
            KvInput::Append { key, value } => ("append", key, Some(value)),
        };
        let (kind, value) = match (is_return, &op.output, written) {
            (false, _, None) => (":invoke", "nil".to_string()),
            (false, _, Some(v)) => (":invoke", edn_string(v)),
            // A write's return need not repeat the value its call gave.
            (true, Some(KvOutput::Done), Some(_)) => (":ok", "nil".to_string()),
            (true, Some(KvOutput::Value(v)), _) => {
                let before = last_read.insert(key, (line, v));
                match before {
                    Some((at, prev)) if !prev.is_empty() && v.starts_with(prev) => {
                        (":ok", format!("{}, :extends {at}", edn_string(&v[prev.len()..])))
                    }
                    _ => (":ok", edn_string(v)),
                }
            }
            (true, _, _) => (":info", "nil".to_string()),
        };
        let config = match served_under.and_then(|s| s[i]) {
            Some(num) if is_return => format!(", :config {num}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{{:process {}, :type {kind}, :f :{f}, :key {}, :value {value}, :time {time}{config}}}\n",
            op.client,
            edn_string(key)
        ));
    }
    out
}

fn edn_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn read_kv(path: &Path) -> Result<Vec<Operation<KvInput, KvOutput>>, ParseError> {
    parse_kv(path, &read(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jepsen_lines_become_operations() {
        let text = "noise\nINFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 1   :invoke :read  nil\n\
                    INFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\nINFO  jepsen.util - 1\t:ok\t:read\t3\n\
                    INFO  jepsen.util - 2\t:invoke\t:write\t4\nINFO  jepsen.util - 2\t:info\t:write\t:timed-out\n";
        let ops = parse_jepsen(Path::new("t.log"), text).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].input, RegisterInput::Cas { from: 1, to: 2 });
        assert_eq!(ops[0].output, Some(RegisterOutput::Cas(false)));
        assert_eq!((ops[0].call, ops[0].ret), (0, Some(2)));
        assert_eq!(ops[1].output, Some(RegisterOutput::Read(Some(3))));
        assert_eq!((ops[2].input, ops[2].ret), (RegisterInput::Write(4), None));
    }

    #[test]
    fn jepsen_errors_name_file_and_line() {
        let err = parse_jepsen(Path::new("x.log"), "INFO  jepsen.util - 0\t:invoke\t:write\tseven\n").unwrap_err();
        assert_eq!(err.to_string(), "x.log:1: expected an integer, found \"seven\"");
        let err = parse_jepsen(Path::new("x.log"), "\nINFO  jepsen.util - 3\t:ok\t:read\t1\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("never invoked"), "{err}");
        let err = parse_jepsen(Path::new("x.log"), "INFO  jepsen.util - 3\t:invoke\t:frob\tnil").unwrap_err();
        assert!(err.message.contains("unknown operation"), "{err}");
    }

    #[test]
    fn kv_lines_become_operations() {
        let text = "{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                    {:process 0, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                    {:process 1, :type :invoke, :f :get, :key \"0\", :value nil}\n";
        let ops = parse_kv(Path::new("k.txt"), text).unwrap();
        assert_eq!(ops[0].input, KvInput::Append { key: "0".into(), value: "x 0 0 y".into() });
        assert_eq!(ops[0].output, Some(KvOutput::Done));
        assert_eq!((ops[1].input.key(), ops[1].ret), ("0", None));
    }

    #[test]
    fn a_read_that_extends_the_last_read_is_written_once_and_read_back_whole() {
        let op = |client, input, value: Option<&str>, call, ret| Operation {
            client,
            input,
            call,
            ret: Some(ret),
            output: Some(value.map_or(KvOutput::Done, |v| KvOutput::Value(v.into()))),
        };
        let get = || KvInput::Get { key: "k".into() };
        let long = "x".repeat(1000);
        let history = vec![
            op(0, KvInput::Append { key: "k".into(), value: long.clone() }, None, 1, 2),
            op(1, get(), Some(&long), 3, 4),
            op(1, get(), Some(&format!("{long}y")), 5, 6),
            op(2, get(), Some("other"), 7, 8),
        ];
        let text = write_kv(&history);
        assert!(text.len() < 2600, "the 1,000-byte value is written twice (append, first read), not thrice");
        assert!(text.contains(":value \"y\", :extends 4"), "{text}");
        assert_eq!(parse_kv(Path::new("h.edn"), &text).unwrap(), history);
        let wrong = text.replace(":extends 4", ":extends 3");
        let err = parse_kv(Path::new("h.edn"), &wrong).unwrap_err();
        assert!(err.message.contains(":extends 3"), "{}", err.message);
    }

    #[test]
    fn a_completion_of_another_operation_is_bad_input_naming_the_line() {
        let invoke_get = "{:process 0, :type :invoke, :f :get, :key \"0\", :value nil}\n";
        let as_put = format!("{invoke_get}{{:process 0, :type :ok, :f :put, :key \"0\", :value \"x\"}}");
        let err = parse_kv(Path::new("k.txt"), &as_put).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("open is a get"), "{}", err.message);
        let invoke_put = "{:process 0, :type :invoke, :f :put, :key \"0\", :value \"a\"}\n";
        let other_value = format!("{invoke_put}{{:process 0, :type :ok, :f :put, :key \"0\", :value \"b\"}}");
        let err = parse_kv(Path::new("k.txt"), &other_value).unwrap_err();
        assert!(err.message.contains("invoked a put of \"a\""), "{}", err.message);
        let other_key = format!("{invoke_put}{{:process 0, :type :ok, :f :put, :key \"1\", :value \"a\"}}");
        assert!(parse_kv(Path::new("k.txt"), &other_key).is_err());
    }

    #[test]
    fn kv_errors_name_file_and_line() {
        let err = parse_kv(
            Path::new("k.txt"),
            "{:process 0, :type :invoke, :f :get, :key \"0\", :value nil}\n{:process 0 :type}",
        )
        .unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse_kv(Path::new("k.txt"), "not a map").unwrap_err();
        assert_eq!(err.to_string(), "k.txt:1: expected one EDN map {...} per line");
        let err = read_kv(Path::new("/no/such/file")).unwrap_err();
        assert!(err.to_string().starts_with("/no/such/file: cannot read"), "{err}");
    }
}
