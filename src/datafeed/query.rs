//! Compiling a [`BoolQuery`] and evaluating it a column at a time over an [`EventFrame`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use arrow::array::Array;

use super::config::{BoolQuery, Clause, DatafeedConfig, TermValue};
use crate::store::{Column, EventFrame, ValueRef};

/// A query that cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CIDR range did not parse.
    #[error("field {field:?}: {value:?} is not a CIDR range (expected e.g. \"10.0.0.0/8\")")]
    BadCidr { field: String, value: String },
    /// A clause names no field.
    #[error("a {clause} clause must name exactly one field")]
    NoField { clause: &'static str },
}

/// A compiled datafeed query, with the table it came from: its query delay, and the query as
/// written for the engines that compile it themselves (Spark).
#[derive(Debug, Clone)]
pub struct Datafeed {
    config: DatafeedConfig,
    fields: Vec<String>,
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Bool {
        all: Vec<Node>,
        any: Vec<Node>,
        none: Vec<Node>,
    },
    /// A test of one field's values. `key` names the field and the test, so datafeeds that share
    /// a test (the shipped jobs share all but one) evaluate it once per frame.
    Test {
        key: String,
        field: usize,
        test: Test,
    },
}

#[derive(Debug, Clone)]
enum Test {
    /// Term sets are short: a linear scan beats hashing every row's value.
    Equals {
        strings: Vec<String>,
        ints: Vec<i64>,
        ips: Vec<IpAddr>,
    },
    Exists,
    InCidr {
        nets: Vec<IpNet>,
    },
}

/// The results of the tests already evaluated on one frame, by test key.
pub struct FrameTests<'f> {
    frame: &'f EventFrame,
    results: HashMap<String, Vec<bool>>,
}

impl<'f> FrameTests<'f> {
    /// No test evaluated yet on `frame`.
    pub fn new(frame: &'f EventFrame) -> FrameTests<'f> {
        FrameTests {
            frame,
            results: HashMap::new(),
        }
    }
}

impl Datafeed {
    /// Compiles the query of `config`, checking every clause.
    pub fn new(config: &DatafeedConfig) -> Result<Datafeed, Error> {
        let mut fields = Vec::new();
        let root = compile_bool(&config.query, &mut fields)?;
        Ok(Datafeed {
            config: config.clone(),
            fields,
            root,
        })
    }

    /// The query as the job file writes it.
    pub fn query(&self) -> &BoolQuery {
        &self.config.query
    }

    /// How long after a bucket ends before it is complete.
    pub fn query_delay(&self) -> Duration {
        self.config.query_delay
    }

    /// The ECS fields the query reads.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The rows of `frame` the query selects, in row order. A field missing from the frame is
    /// null on every row, as a missing field is in Elasticsearch.
    pub fn select(&self, frame: &EventFrame) -> Vec<u32> {
        self.select_with(&mut FrameTests::new(frame))
    }

    /// [`Datafeed::select`] on the frame of `tests`, reusing the tests other datafeeds already
    /// evaluated on it.
    pub fn select_with(&self, tests: &mut FrameTests) -> Vec<u32> {
        let frame = tests.frame;
        let columns: Vec<Option<&Column>> =
            self.fields.iter().map(|f| frame.columns.get(f)).collect();
        let matched = self
            .root
            .eval(&columns, frame.timestamps.len(), &mut tests.results);
        (0..matched.len() as u32)
            .filter(|&row| matched[row as usize])
            .collect()
    }
}

fn field_index(fields: &mut Vec<String>, name: &str) -> usize {
    match fields.iter().position(|f| f == name) {
        Some(i) => i,
        None => {
            fields.push(name.to_string());
            fields.len() - 1
        }
    }
}

fn compile_bool(query: &BoolQuery, fields: &mut Vec<String>) -> Result<Node, Error> {
    let compile_all = |clauses: &[Clause], fields: &mut Vec<String>| -> Result<Vec<Node>, Error> {
        clauses.iter().map(|c| compile_clause(c, fields)).collect()
    };
    let mut all = compile_all(&query.filter, fields)?;
    all.extend(compile_all(&query.must, fields)?);
    let any = compile_all(&query.should, fields)?;
    let none = compile_all(&query.must_not, fields)?;
    Ok(Node::Bool { all, any, none })
}

fn compile_clause(clause: &Clause, fields: &mut Vec<String>) -> Result<Node, Error> {
    match clause {
        Clause::Bool(query) => compile_bool(query, fields),
        Clause::Exists { field } => Ok(test(fields, field, Test::Exists)),
        Clause::Term(map) => {
            let (field, value) = single(map, "term")?;
            Ok(test(fields, field, equals(std::slice::from_ref(value))))
        }
        Clause::Terms(map) => {
            let (field, values) = single(map, "terms")?;
            Ok(test(fields, field, equals(values)))
        }
        Clause::Cidr(map) => {
            let (field, ranges) = single(map, "cidr")?;
            let nets = parse_nets(field, ranges)?;
            Ok(test(fields, field, Test::InCidr { nets }))
        }
    }
}

fn test(fields: &mut Vec<String>, field: &str, test: Test) -> Node {
    Node::Test {
        key: format!("{field:?} {test:?}"),
        field: field_index(fields, field),
        test,
    }
}

/// The one field of a one-field clause and its value.
pub(crate) fn single<'a, V>(
    map: &'a std::collections::BTreeMap<String, V>,
    clause: &'static str,
) -> Result<(&'a String, &'a V), Error> {
    match (map.len(), map.iter().next()) {
        (1, Some(entry)) => Ok(entry),
        _ => Err(Error::NoField { clause }),
    }
}

/// The CIDR ranges of a `cidr` clause on `field`.
pub(crate) fn parse_nets(field: &str, ranges: &[String]) -> Result<Vec<IpNet>, Error> {
    ranges
        .iter()
        .map(|r| {
            r.parse::<IpNet>().map_err(|_| Error::BadCidr {
                field: field.to_string(),
                value: r.clone(),
            })
        })
        .collect()
}

/// The values of a term or terms clause in each form a field's value is compared in.
pub(crate) struct TermSet {
    /// Every value as text (integers in decimal).
    pub strings: Vec<String>,
    /// The values that are integers, for integer fields.
    pub ints: Vec<i64>,
    /// The values that are IPv6 addresses, compared as addresses.
    pub ipv6: Vec<std::net::Ipv6Addr>,
}

impl TermSet {
    pub(crate) fn of(values: &[TermValue]) -> TermSet {
        let mut set = TermSet {
            strings: Vec::new(),
            ints: Vec::new(),
            ipv6: Vec::new(),
        };
        for value in values {
            match value {
                TermValue::Int(i) => {
                    set.ints.push(*i);
                    set.strings.push(i.to_string());
                }
                TermValue::Str(s) => {
                    if let Ok(i) = s.parse::<i64>() {
                        set.ints.push(i);
                    }
                    if let Ok(IpAddr::V6(ip)) = s.parse::<IpAddr>() {
                        set.ipv6.push(ip);
                    }
                    set.strings.push(s.clone());
                }
            }
        }
        set
    }
}

fn equals(values: &[TermValue]) -> Test {
    let TermSet {
        strings,
        ints,
        ipv6,
    } = TermSet::of(values);
    Test::Equals {
        strings,
        ints,
        ips: ipv6.into_iter().map(IpAddr::V6).collect(),
    }
}

impl Node {
    /// Whether each of the `rows` rows matches. Clauses are evaluated a column at a time, and a
    /// value test runs once per distinct keyword or list element, not once per row.
    fn eval(
        &self,
        columns: &[Option<&Column>],
        rows: usize,
        done: &mut HashMap<String, Vec<bool>>,
    ) -> Vec<bool> {
        match self {
            Node::Bool { all, any, none } => {
                let mut matched = vec![true; rows];
                for node in all {
                    combine(&mut matched, &node.eval(columns, rows, done), |m, n| m && n);
                }
                if !any.is_empty() {
                    let mut some = vec![false; rows];
                    for node in any {
                        combine(&mut some, &node.eval(columns, rows, done), |s, n| s || n);
                    }
                    combine(&mut matched, &some, |m, s| m && s);
                }
                for node in none {
                    combine(&mut matched, &node.eval(columns, rows, done), |m, n| {
                        m && !n
                    });
                }
                matched
            }
            Node::Test { key, field, test } => {
                if let Some(matched) = done.get(key) {
                    return matched.clone();
                }
                let matched = test.eval(columns[*field], rows);
                done.insert(key.clone(), matched.clone());
                matched
            }
        }
    }
}

impl Test {
    /// Whether some value of each of the `rows` rows of `column` passes the test.
    fn eval(&self, column: Option<&Column>, rows: usize) -> Vec<bool> {
        match self {
            Test::Exists => any_value(column, rows, |_| true),
            Test::Equals { strings, ints, ips } => any_value(column, rows, |v| match v {
                ValueRef::Int(i) => ints.contains(&i),
                // IPv6 addresses compare as addresses, so "::1" matches "0:0:0:0:0:0:0:1";
                // IPv4 has one text form, so only values with a ':' are parsed.
                ValueRef::Str(s) => {
                    strings.iter().any(|t| t == s)
                        || (!ips.is_empty()
                            && s.contains(':')
                            && s.parse::<IpAddr>().is_ok_and(|ip| ips.contains(&ip)))
                }
            }),
            Test::InCidr { nets } => any_value(column, rows, |v| match v {
                ValueRef::Str(s) => s
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
                ValueRef::Int(_) => false,
            }),
        }
    }
}

fn combine(into: &mut [bool], other: &[bool], op: impl Fn(bool, bool) -> bool) {
    for (a, &b) in into.iter_mut().zip(other) {
        *a = op(*a, b);
    }
}

/// Whether some value of each row passes `test` (never, for a missing column or a null row).
/// A keyword column's distinct values and a list column's elements are tested once each.
fn any_value(column: Option<&Column>, rows: usize, test: impl Fn(ValueRef) -> bool) -> Vec<bool> {
    match column {
        None => vec![false; rows],
        Some(Column::Keyword(keywords)) => {
            let hits: Vec<bool> = keywords
                .values()
                .iter()
                .map(|v| test(ValueRef::Str(v)))
                .collect();
            keywords
                .codes()
                .iter()
                .map(|&code| hits.get(code as usize).copied().unwrap_or(false))
                .collect()
        }
        Some(Column::Integer(ints)) => (0..rows)
            .map(|row| ints.is_valid(row) && test(ValueRef::Int(ints.value(row))))
            .collect(),
        Some(Column::KeywordList(lists)) => {
            let hits: Vec<bool> = lists
                .values()
                .iter()
                .map(|v| test(ValueRef::Str(v)))
                .collect();
            (0..rows)
                .map(|row| {
                    let hit = |code: &u32| hits.get(*code as usize).copied().unwrap_or(false);
                    lists.codes(row).iter().any(hit)
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ScanStats;
    use arrow::array::Int64Array;
    use std::collections::HashMap;

    fn frame() -> EventFrame {
        let categories = [
            vec![Some("network")],
            vec![Some("network"), Some("process")],
            vec![Some("process")],
            vec![],
        ];
        let mut columns = HashMap::new();
        columns.insert(
            "event.category".to_string(),
            Column::KeywordList(categories.into_iter().collect()),
        );
        columns.insert(
            "destination.ip".to_string(),
            Column::Keyword(
                [
                    Some("0:0:0:0:0:0:0:1"),
                    Some("10.1.2.3"),
                    None,
                    Some("8.8.8.8"),
                ]
                .into_iter()
                .collect(),
            ),
        );
        columns.insert(
            "destination.port".to_string(),
            Column::Integer(Int64Array::from(vec![Some(22), Some(4444), None, Some(53)])),
        );
        EventFrame {
            path: "t.parquet".into(),
            timestamps: vec![0, 1, 2, 3],
            columns,
            stats: ScanStats::default(),
        }
    }

    fn select(query: &str) -> Vec<u32> {
        compile(query).select(&frame())
    }

    fn compile(query: &str) -> Datafeed {
        let config: DatafeedConfig =
            toml::from_str(&format!("[query]\n{query}")).expect("test query parses");
        Datafeed::new(&config).expect("test query compiles")
    }

    #[test]
    fn datafeeds_sharing_a_test_on_one_frame_select_as_each_would_alone() {
        // The same test on the list field, and a test only the second has; its fields are
        // listed in another order, so the shared test has another field index there.
        let first = compile(r#"filter = [{ term = { "event.category" = "network" } }]"#);
        let second = compile(
            r#"filter = [{ term = { "destination.port" = 22 } }, { term = { "event.category" = "network" } }]"#,
        );
        let frame = frame();
        let mut tests = FrameTests::new(&frame);
        assert_eq!(first.select_with(&mut tests), [0, 1]);
        assert_eq!(second.select_with(&mut tests), [0]);
        assert_eq!(tests.results.len(), 2, "the shared test is evaluated once");
        assert_eq!(second.select(&frame), [0]);
    }

    #[test]
    fn term_on_a_list_field_means_contains() {
        assert_eq!(
            select(r#"filter = [{ term = { "event.category" = "network" } }]"#),
            [0, 1]
        );
    }

    #[test]
    fn must_not_on_ips_compares_addresses_not_text() {
        assert_eq!(
            select(r#"must_not = [{ terms = { "destination.ip" = ["::1"] } }]"#),
            [1, 2, 3]
        );
    }

    #[test]
    fn cidr_and_exists() {
        assert_eq!(
            select(r#"filter = [{ cidr = { "destination.ip" = ["10.0.0.0/8"] } }]"#),
            [1]
        );
        assert_eq!(
            select(r#"filter = [{ exists = { field = "destination.ip" } }]"#),
            [0, 1, 3]
        );
    }

    #[test]
    fn should_needs_one_match_and_ports_match_as_numbers() {
        assert_eq!(
            select(
                r#"should = [{ term = { "destination.port" = 22 } }, { term = { "destination.port" = "53" } }]"#
            ),
            [0, 3]
        );
    }

    #[test]
    fn missing_field_is_null() {
        assert_eq!(
            select(r#"filter = [{ term = { "user.name" = "root" } }]"#),
            Vec::<u32>::new()
        );
        assert_eq!(
            select(r#"must_not = [{ term = { "user.name" = "jenkins" } }]"#),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn bad_cidr_is_refused_with_the_field() {
        let config: DatafeedConfig = toml::from_str(
            "[query]\nfilter = [{ cidr = { \"destination.ip\" = [\"10.0.0/33\"] } }]",
        )
        .expect("parses");
        let err = Datafeed::new(&config).expect_err("bad CIDR");
        assert!(err.to_string().contains("destination.ip"), "{err}");
    }
}
