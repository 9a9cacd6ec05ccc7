//! The inputs: corpus seeds mutated by proptest strategies, so a failure shrinks to the fewest,
//! smallest mutations of the smallest-numbered seed that still fail.
//!
//! Two layers of mutation. Structure-aware first, where a seed parses: a TOML or JSON document
//! (or one NDJSON line) has values replaced by boundary values, removed, copied over one another
//! or renamed, then is printed again; an audit line has a `key=value` field's value replaced.
//! Then byte-level: bytes set, deleted, inserted from the target's dictionary, duplicated
//! (inputs grow to tens of KiB this way), repeated up to 20,000 times (deep nesting) and
//! truncated. Some inputs are random bytes, and some
//! are two seeds spliced together.

use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

/// What a seed is, for the structure-aware mutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    Toml,
    Json,
    /// One JSON document per line.
    JsonLines,
    /// Linux audit records, one per line, `key=value` fields.
    AuditLines,
}

/// An input: its bytes, shown as text on failure.
#[derive(Clone)]
pub struct Input(pub Vec<u8>);

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 600;
        let text = String::from_utf8_lossy(&self.0[..self.0.len().min(SHOWN)]);
        let more = if self.0.len() > SHOWN { " ..." } else { "" };
        write!(f, "{} bytes: {text:?}{more}", self.0.len())
    }
}

/// Tokens worth inserting into any target's bytes.
const COMMON_TOKENS: &[&str] = &[
    "\0",
    "\n",
    "\r\n",
    " ",
    "\"",
    "'",
    "\\",
    "\u{1d}",
    "\u{feff}",
    "é",
    "\u{10ffff}",
    "0",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "1e309",
    "-0",
    "0x",
    "NaN",
    "inf",
];

const TOML_TOKENS: &[&str] = &[
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    "#",
    ".",
    "\"\"\"",
    "'''",
    "\\u0000",
    "\\U0010FFFF",
    "true",
    "nan",
    "+inf",
    "1979-05-27T07:32:00Z",
    "[job]",
    "[rule]",
    "[datafeed]",
    "[model]",
    "[[entry]]",
    "[kibana]",
    "[spark]",
    "a = 1\n",
    "15m",
    "now-",
    "mb",
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "\\u0000",
    "\\ud800",
    "1e999",
    "-",
    "{}",
    "[]",
    "\"@timestamp\":",
    "\"_source\":",
    "\"hits\":",
    "\"event\":",
    "\"format\":",
    "\"version\":2",
    "_ms\":",
];

const AUDIT_TOKENS: &[&str] = &[
    "=",
    "\"",
    "'",
    " ",
    "(",
    ")",
    ":",
    ".",
    "\u{1d}",
    "{",
    "}",
    "type=",
    "msg=audit(",
    "node=",
    "SYSCALL",
    "SOCKADDR",
    "EOE",
    "PROCTITLE",
    "CWD",
    "saddr=",
    "0A00",
    "0200",
    "0100",
    "arch=",
    "syscall=",
    "a0=",
    "exit=",
    "pid=",
    "proctitle=",
    "1793613600.000:1001): ",
];

/// The dictionary of byte-level insertions for a structure.
pub fn tokens(structure: Structure) -> Vec<&'static [u8]> {
    let own = match structure {
        Structure::Toml => TOML_TOKENS,
        Structure::Json | Structure::JsonLines => JSON_TOKENS,
        Structure::AuditLines => AUDIT_TOKENS,
    };
    COMMON_TOKENS
        .iter()
        .chain(own)
        .map(|t| t.as_bytes())
        .collect()
}

/// Values a structure-aware mutation puts in place of another.
fn interesting_values(structure: Structure) -> Vec<Value> {
    let mut values = vec![
        json!(0),
        json!(-1),
        json!(1),
        json!(2_147_483_648_i64),
        json!(4_294_967_296_i64),
        json!(9_007_199_254_740_993_i64),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(4_102_444_800_000_i64),
        json!(4_102_444_799_999_i64),
        json!(1.5),
        json!(-0.0),
        json!(1e308),
        json!(5e-324),
        json!(true),
        json!(""),
        json!(" "),
        json!("0s"),
        json!("15m"),
        json!("1d"),
        json!("99999999999999999d"),
        json!("now-45m"),
        json!("now-"),
        json!("32mb"),
        json!("18446744073709551615b"),
        json!("10.0.0.0/8"),
        json!("::/0"),
        json!("0-65535"),
        json!("65535-0"),
        json!("["),
        json!("**"),
        json!("a\u{0}b"),
        json!("\u{10ffff}"),
        json!("x".repeat(300)),
        json!([]),
        json!({}),
        json!([1, "a"]),
        json!({ "a": 1 }),
    ];
    if structure != Structure::Toml {
        values.extend([json!(null), json!(u64::MAX), json!(-1e308)]);
    }
    values
}

/// Keys a rename may give a member: unknown ones, and ones that exist elsewhere.
const KEYS: &[&str] = &[
    "x",
    "",
    "id",
    "version",
    "format",
    "job_id",
    "checkpoint_ms",
    "@timestamp",
    "_source",
    "hits",
    "event.category",
    "destination.port",
    "query",
    "exceptions",
    "entry",
    "enabled",
    "kibana",
];

/// One structure-aware mutation, applied to a node chosen by `at` in document order.
#[derive(Debug, Clone)]
pub enum TreeOp {
    /// Replace the node with `interesting_values()[v]`.
    Replace { at: Index, value: Index },
    /// Remove the node from its parent.
    Remove { at: Index },
    /// Replace the node with a copy of another node.
    Graft { at: Index, from: Index },
    /// Rename the node's key, where its parent is an object.
    Rename { at: Index, key: Index },
    /// Append a copy of the node to its parent array (or under a new key).
    Duplicate { at: Index },
}

/// One byte-level mutation.
#[derive(Debug, Clone)]
pub enum ByteOp {
    Set {
        at: Index,
        byte: u8,
    },
    Delete {
        at: Index,
        len: u8,
    },
    Insert {
        at: Index,
        token: Index,
    },
    InsertBytes {
        at: Index,
        bytes: Vec<u8>,
    },
    /// Repeat `len` bytes from `at` `times` times: long lines, many records.
    Duplicate {
        at: Index,
        len: u16,
        times: u8,
    },
    /// Insert a dictionary token `times` times: deep nesting, long runs of one separator.
    Repeat {
        at: Index,
        token: Index,
        times: u16,
    },
    Truncate {
        at: Index,
    },
}

fn tree_op() -> impl Strategy<Value = TreeOp> {
    prop_oneof![
        4 => (any::<Index>(), any::<Index>()).prop_map(|(at, value)| TreeOp::Replace { at, value }),
        2 => any::<Index>().prop_map(|at| TreeOp::Remove { at }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(at, from)| TreeOp::Graft { at, from }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(at, key)| TreeOp::Rename { at, key }),
        1 => any::<Index>().prop_map(|at| TreeOp::Duplicate { at }),
    ]
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| ByteOp::Set { at, byte }),
        2 => (any::<Index>(), 1..64u8).prop_map(|(at, len)| ByteOp::Delete { at, len }),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| ByteOp::Insert { at, token }),
        1 => (any::<Index>(), vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| ByteOp::InsertBytes { at, bytes }),
        1 => (any::<Index>(), 1..4096u16, 1..16u8)
            .prop_map(|(at, len, times)| ByteOp::Duplicate { at, len, times }),
        1 => (any::<Index>(), any::<Index>(), 1..20_000u16)
            .prop_map(|(at, token, times)| ByteOp::Repeat { at, token, times }),
        1 => any::<Index>().prop_map(|at| ByteOp::Truncate { at }),
    ]
}

/// The inputs of a target: mostly mutated seeds; some random bytes; some spliced seeds.
pub fn inputs(seeds: Vec<Vec<u8>>, structure: Structure) -> BoxedStrategy<Input> {
    assert!(!seeds.is_empty(), "a target needs at least one seed");
    let tokens = tokens(structure);
    let values = interesting_values(structure);
    let mutated = {
        let seeds = seeds.clone();
        (any::<Index>(), vec(tree_op(), 0..4), vec(byte_op(), 0..6)).prop_map(
            move |(seed, tree_ops, byte_ops)| {
                let seed = seed.get(&seeds);
                let mut bytes = mutate_tree(seed, structure, &tree_ops, &values);
                for op in &byte_ops {
                    apply(&mut bytes, op, &tokens);
                }
                Input(bytes)
            },
        )
    };
    let random = vec(any::<u8>(), 0..512).prop_map(Input);
    let spliced = (
        any::<Index>(),
        any::<Index>(),
        any::<Index>(),
        any::<Index>(),
    )
        .prop_map(move |(a, b, cut_a, cut_b)| {
            let (a, b) = (a.get(&seeds), b.get(&seeds));
            let mut bytes = a[..cut_a.index(a.len() + 1)].to_vec();
            bytes.extend_from_slice(&b[cut_b.index(b.len() + 1)..]);
            Input(bytes)
        });
    prop_oneof![16 => mutated, 1 => random, 1 => spliced].boxed()
}

fn apply(bytes: &mut Vec<u8>, op: &ByteOp, tokens: &[&[u8]]) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match op {
        ByteOp::Set { at: i, byte } if !bytes.is_empty() => {
            let i = i.index(bytes.len());
            bytes[i] = *byte;
        }
        ByteOp::Delete { at: i, len } => {
            let start = at(i, bytes.len());
            let end = (start + *len as usize).min(bytes.len());
            bytes.drain(start..end);
        }
        ByteOp::Insert { at: i, token } => {
            let start = at(i, bytes.len());
            let token = token.get(tokens);
            bytes.splice(start..start, token.iter().copied());
        }
        ByteOp::InsertBytes { at: i, bytes: new } => {
            let start = at(i, bytes.len());
            bytes.splice(start..start, new.iter().copied());
        }
        ByteOp::Duplicate { at: i, len, times } => {
            let start = at(i, bytes.len());
            let end = (start + *len as usize).min(bytes.len());
            let piece = bytes[start..end].to_vec();
            for _ in 0..*times {
                bytes.splice(end..end, piece.iter().copied());
            }
        }
        ByteOp::Repeat {
            at: i,
            token,
            times,
        } => {
            let start = at(i, bytes.len());
            let token = token.get(tokens);
            let run = token.repeat(*times as usize);
            bytes.splice(start..start, run);
        }
        ByteOp::Truncate { at: i } => {
            let len = at(i, bytes.len());
            bytes.truncate(len);
        }
        ByteOp::Set { .. } => {}
    }
}

/// Applies the tree operations to the seed's structure, where it parses; otherwise (or with no
/// operations) the seed is returned as is.
fn mutate_tree(seed: &[u8], structure: Structure, ops: &[TreeOp], values: &[Value]) -> Vec<u8> {
    if ops.is_empty() {
        return seed.to_vec();
    }
    match structure {
        Structure::Toml => {
            let Some(mut doc) = std::str::from_utf8(seed)
                .ok()
                .and_then(|text| toml::from_str::<Value>(text).ok())
            else {
                return seed.to_vec();
            };
            mutate_value(&mut doc, ops, values);
            // A document TOML cannot hold (a null left by a graft, say) keeps the seed.
            toml::to_string(&doc).map_or_else(|_| seed.to_vec(), String::into_bytes)
        }
        Structure::Json => match serde_json::from_slice::<Value>(seed) {
            Ok(mut doc) => {
                mutate_value(&mut doc, ops, values);
                serde_json::to_vec(&doc).expect("a JSON value prints")
            }
            Err(_) => seed.to_vec(),
        },
        Structure::JsonLines => {
            let mut lines: Vec<Vec<u8>> = seed.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            for op in ops {
                let line = op_index(op).index(lines.len());
                if let Ok(mut doc) = serde_json::from_slice::<Value>(&lines[line]) {
                    mutate_value(&mut doc, std::slice::from_ref(op), values);
                    lines[line] = serde_json::to_vec(&doc).expect("a JSON value prints");
                }
            }
            lines.join(&b'\n')
        }
        Structure::AuditLines => mutate_audit(seed, ops),
    }
}

fn op_index(op: &TreeOp) -> &Index {
    match op {
        TreeOp::Replace { at, .. }
        | TreeOp::Remove { at }
        | TreeOp::Graft { at, .. }
        | TreeOp::Rename { at, .. }
        | TreeOp::Duplicate { at } => at,
    }
}

/// A step from a node to a child.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Item(usize),
}

/// The paths of every node under (not including) the root, in document order.
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(Step::Key(key.clone()));
                    out.push(path.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Step::Item(i));
                    out.push(path.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |node, step| match step {
        Step::Key(key) => node.get_mut(key.as_str()),
        Step::Item(i) => node.get_mut(*i),
    })
}

fn mutate_value(root: &mut Value, ops: &[TreeOp], values: &[Value]) {
    for op in ops {
        let all = paths(root);
        if all.is_empty() {
            *root = Value::Object(Map::new());
            return;
        }
        let path = &all[op_index(op).index(all.len())];
        let (last, parent_path) = path.split_last().expect("paths are not empty");
        match op {
            TreeOp::Replace { value, .. } => {
                if let Some(node) = node_mut(root, path) {
                    *node = value.get(values).clone();
                }
            }
            TreeOp::Graft { from, .. } => {
                let from = &all[from.index(all.len())];
                let copy = node_mut(root, from).map(|v| v.clone());
                if let (Some(copy), Some(node)) = (copy, node_mut(root, path)) {
                    *node = copy;
                }
            }
            TreeOp::Remove { .. } => match (node_mut(root, parent_path), last) {
                (Some(Value::Object(map)), Step::Key(key)) => {
                    map.remove(key);
                }
                (Some(Value::Array(items)), Step::Item(i)) => {
                    items.remove(*i);
                }
                _ => {}
            },
            TreeOp::Rename { key, .. } => {
                if let (Some(Value::Object(map)), Step::Key(old)) =
                    (node_mut(root, parent_path), last)
                    && let Some(v) = map.remove(old)
                {
                    map.insert(key.get(KEYS).to_string(), v);
                }
            }
            TreeOp::Duplicate { .. } => match (node_mut(root, parent_path), last) {
                (Some(Value::Object(map)), Step::Key(key)) => {
                    if let Some(v) = map.get(key).cloned() {
                        map.insert(format!("{key}_"), v);
                    }
                }
                (Some(Value::Array(items)), Step::Item(i)) => {
                    let v = items[*i].clone();
                    items.push(v);
                }
                _ => {}
            },
        }
    }
}

/// Audit values a field may be given instead of its own.
const AUDIT_VALUES: &[&str] = &[
    "",
    "\"\"",
    "\"",
    "0",
    "-1",
    "18446744073709551615",
    "ffffffffffffffff",
    "c000003e",
    "80000015",
    "40000003",
    "0A000050000000000000000000000000000000000000000000",
    "020000507F000001",
    "0A00",
    "02",
    "0",
    "6E6574636174",
    "(null)",
    "?",
    "1793613600.000:1",
    "audit(1793613600.000:1001):",
    "audit(99999999999999.000:1):",
    "audit(1.1:18446744073709551616):",
];

/// Replaces the value of a `key=value` field of a line (op `at` picks line and field), or
/// duplicates, removes or swaps whole lines: records of one event are grouped across lines.
fn mutate_audit(seed: &[u8], ops: &[TreeOp]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = seed.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    for op in ops {
        let n = lines.len();
        let line = op_index(op).index(n);
        match op {
            TreeOp::Replace { value, .. } => {
                let fields: Vec<(usize, usize)> = field_values(&lines[line]);
                if fields.is_empty() {
                    continue;
                }
                let (start, end) = fields[value.index(fields.len())];
                let new = AUDIT_VALUES[value.index(AUDIT_VALUES.len() * 7) % AUDIT_VALUES.len()];
                lines[line].splice(start..end, new.bytes());
            }
            TreeOp::Remove { .. } if n > 1 => {
                lines.remove(line);
            }
            TreeOp::Graft { from, .. } => {
                let other = from.index(n);
                lines.swap(line, other);
            }
            TreeOp::Rename { key, .. } => {
                let fields = field_values(&lines[line]);
                if let Some(&(start, _)) = fields.get(key.index(fields.len().max(1))) {
                    // Break the `=` before the value: a field without one.
                    if start > 0 {
                        lines[line][start - 1] = b' ';
                    }
                }
            }
            TreeOp::Duplicate { .. } | TreeOp::Remove { .. } => {
                let copy = lines[line].clone();
                lines.insert(line, copy);
            }
        }
    }
    lines.join(&b'\n')
}

/// The byte ranges of the values of a line's `key=value` fields.
fn field_values(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'=' {
            let start = i + 1;
            let mut end = start;
            while end < line.len() && !matches!(line[end], b' ' | b'\x1d') {
                end += 1;
            }
            out.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}
