//! The datafeed query as a Spark SQL boolean expression with Elasticsearch's semantics: a term on
//! a list field means "contains", a missing field matches nothing (so `must_not` on it keeps the
//! event), IPv6 addresses compare as addresses and CIDR ranges as numbers.
//!
//! Every expression is `true` or `false`, never NULL: SQL's three-valued NOT would otherwise drop
//! an event whose field is missing from a `must_not`, where Elasticsearch keeps it.

use ipnet::IpNet;

use super::columns::{SourceSchema, literal};
use crate::datafeed::{BoolQuery, Clause, Error, TermSet, TermValue, parse_nets, single};
use crate::store::FieldKind;

/// The WHERE expression selecting what `query` selects.
pub fn compile(query: &BoolQuery, schema: &SourceSchema) -> Result<String, Error> {
    let part = |clauses: &[Clause]| -> Result<Vec<String>, Error> {
        clauses.iter().map(|c| clause(c, schema)).collect()
    };
    let mut all = part(&query.filter)?;
    all.extend(part(&query.must)?);
    let any = part(&query.should)?;
    let none = part(&query.must_not)?;
    let mut terms: Vec<String> = all;
    if !any.is_empty() {
        terms.push(format!("({})", any.join(" OR ")));
    }
    terms.extend(none.into_iter().map(|n| format!("NOT {n}")));
    Ok(if terms.is_empty() {
        "true".to_string()
    } else {
        format!("({})", terms.join(" AND "))
    })
}

fn clause(clause: &Clause, schema: &SourceSchema) -> Result<String, Error> {
    match clause {
        Clause::Bool(query) => compile(query, schema),
        Clause::Exists { field } => Ok(exists(field, schema)),
        Clause::Term(map) => {
            let (field, value) = single(map, "term")?;
            Ok(equals(field, std::slice::from_ref(value), schema))
        }
        Clause::Terms(map) => {
            let (field, values) = single(map, "terms")?;
            Ok(equals(field, values, schema))
        }
        Clause::Cidr(map) => {
            let (field, ranges) = single(map, "cidr")?;
            Ok(in_cidr(field, &parse_nets(field, ranges)?, schema))
        }
    }
}

/// `test(v)` for some value `v` of the field: any element of a list, the value of a scalar;
/// false when the field is missing.
fn any_value(field: &str, schema: &SourceSchema, test: impl Fn(&str) -> String) -> String {
    let value = schema.value(field);
    match FieldKind::of(field) {
        FieldKind::KeywordList => {
            format!("coalesce(exists({value}, v -> {}), false)", test("v"))
        }
        _ => format!("coalesce({}, false)", test(&value)),
    }
}

fn exists(field: &str, schema: &SourceSchema) -> String {
    let value = schema.value(field);
    match FieldKind::of(field) {
        FieldKind::KeywordList => format!("coalesce(size({value}) > 0, false)"),
        _ => format!("({value} IS NOT NULL)"),
    }
}

fn equals(field: &str, values: &[TermValue], schema: &SourceSchema) -> String {
    let TermSet {
        strings,
        ints,
        ipv6,
    } = TermSet::of(values);
    let ipv6: Vec<String> = ipv6.iter().map(ipv6_literal).collect();
    match FieldKind::of(field) {
        FieldKind::Port | FieldKind::Integer if ints.is_empty() => "false".to_string(),
        FieldKind::Port | FieldKind::Integer => {
            let list = join(ints.iter().map(i64::to_string));
            any_value(field, schema, |v| format!("{v} IN ({list})"))
        }
        _ => {
            let list = join(strings.iter().map(|s| literal(s)));
            any_value(field, schema, |v| {
                if ipv6.is_empty() {
                    format!("{v} IN ({list})")
                } else {
                    let addresses = join(ipv6.iter().map(|s| literal(s)));
                    format!(
                        "({v} IN ({list}) OR ({v} LIKE '%:%' AND {} IN ({addresses})))",
                        ipv6_key(v)
                    )
                }
            })
        }
    }
}

fn in_cidr(field: &str, nets: &[IpNet], schema: &SourceSchema) -> String {
    if nets.is_empty() {
        return "false".to_string();
    }
    any_value(field, schema, |v| {
        let ranges = nets.iter().map(|net| match net {
            IpNet::V4(net) => format!(
                "{} BETWEEN {} AND {}",
                ipv4_number(v),
                u32::from(net.network()),
                u32::from(net.broadcast())
            ),
            IpNet::V6(net) => format!(
                "{} BETWEEN {} AND {}",
                ipv6_key(v),
                literal(&ipv6_literal(&net.network())),
                literal(&ipv6_literal(&net.broadcast()))
            ),
        });
        format!("({})", ranges.collect::<Vec<_>>().join(" OR "))
    })
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// An IPv4 octet as Rust's parser takes it: 0 to 255, no leading zeros.
const OCTET: &str = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

/// A dotted-quad address as a number, NULL when `v` is not one.
fn ipv4_number(v: &str) -> String {
    let quad = format!("^{OCTET}[.]{OCTET}[.]{OCTET}[.]{OCTET}$");
    let octet = |i: usize| format!("CAST(regexp_extract({v}, '{quad}', {i}) AS BIGINT)");
    format!(
        "CASE WHEN {v} RLIKE '{quad}' THEN {} * 16777216 + {} * 65536 + {} * 256 + {} END",
        octet(1),
        octet(2),
        octet(3),
        octet(4)
    )
}

/// The one text an IPv6 address has in [`ipv6_key`]: eight lowercase four-digit groups, so
/// string order is address order.
fn ipv6_literal(ip: &std::net::Ipv6Addr) -> String {
    ip.segments()
        .iter()
        .map(|s| format!("{s:04x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `v` as in [`ipv6_literal`] when it is an IPv6 address as Rust's parser reads one (`::`
/// standing for at least one zero group, an optional dotted-quad tail), else NULL.
fn ipv6_key(v: &str) -> String {
    let tail = format!("^(.*:){OCTET}[.]{OCTET}[.]{OCTET}[.]{OCTET}$");
    let octet = |i: usize| format!("CAST(regexp_extract(a, '{tail}', {i}) AS INT)");
    let hex = |hi: usize, lo: usize| {
        format!(
            "lpad(lower(hex({} * 256 + {})), 4, '0')",
            octet(hi),
            octet(lo)
        )
    };
    // The dotted tail as two hex groups.
    let groups_text = format!(
        "CASE WHEN a RLIKE '{tail}' THEN concat(regexp_extract(a, '{tail}', 1), {}, ':', {}) ELSE a END",
        hex(2, 3),
        hex(4, 5)
    );
    // The groups, with `::` expanded to the zero groups it stands for.
    let expanded = "CASE WHEN size(p) = 1 THEN split(b, ':', -1) \
         WHEN size(p) = 2 THEN concat(h, array_repeat('0', 8 - size(h) - size(t)), t) END";
    let halves = "transform(array(split(b, '::', -1)), p -> \
         transform(array(CASE WHEN element_at(p, 1) = '' THEN CAST(array() AS ARRAY<STRING>) ELSE split(element_at(p, 1), ':', -1) END), h -> \
         transform(array(CASE WHEN coalesce(try_element_at(p, 2), '') = '' THEN CAST(array() AS ARRAY<STRING>) ELSE split(try_element_at(p, 2), ':', -1) END), t -> \
         CASE WHEN size(p) = 1 OR 8 - size(h) - size(t) >= 1 THEN EXPANDED END)[0])[0])[0]"
        .replace("EXPANDED", expanded);
    format!(
        "transform(array(lower({v})), a -> transform(array({groups_text}), b -> \
         transform(array({halves}), g -> CASE WHEN size(g) = 8 AND \
         forall(g, x -> x RLIKE '^[0-9a-f]{{1,4}}$') \
         THEN concat_ws(':', transform(g, x -> lpad(x, 4, '0'))) END)[0])[0])[0]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(query: &str) -> String {
        let config: crate::datafeed::DatafeedConfig =
            toml::from_str(&format!("[query]\n{query}")).expect("test query parses");
        let fields = ["event.category", "destination.ip", "destination.port"].map(String::from);
        compile(&config.query, &SourceSchema::flat(&fields)).expect("compiles")
    }

    #[test]
    fn a_term_on_a_list_field_means_contains() {
        assert_eq!(
            sql(r#"filter = [{ term = { "event.category" = "network" } }]"#),
            "(coalesce(exists(transform(`event.category`, v -> CAST(v AS STRING)), v -> v IN ('network')), false))"
        );
    }

    #[test]
    fn must_not_never_sees_null() {
        let where_ = sql(r#"must_not = [{ term = { "user.name" = "jenkins" } }]"#);
        assert_eq!(
            where_,
            "(NOT coalesce(CAST(NULL AS STRING) IN ('jenkins'), false))"
        );
    }

    #[test]
    fn ports_compare_as_numbers_and_strings_as_text() {
        let where_ = sql(
            r#"should = [{ term = { "destination.port" = 22 } }, { term = { "destination.port" = "x" } }]"#,
        );
        assert!(where_.contains("IN (22)"), "{where_}");
        assert!(where_.ends_with("OR false))"), "{where_}");
    }

    #[test]
    fn ipv6_terms_compare_as_addresses() {
        let where_ = sql(r#"filter = [{ terms = { "destination.ip" = ["::1", "10.0.0.1"] } }]"#);
        assert!(
            where_.contains("IN ('0000:0000:0000:0000:0000:0000:0000:0001')"),
            "{where_}"
        );
        assert!(where_.contains("IN ('::1', '10.0.0.1')"), "{where_}");
    }

    #[test]
    fn cidr_ranges_become_numeric_and_address_ranges() {
        let where_ =
            sql(r#"filter = [{ cidr = { "destination.ip" = ["10.0.0.0/8", "fe80::/10"] } }]"#);
        assert!(
            where_.contains("BETWEEN 167772160 AND 184549375"),
            "{where_}"
        );
        assert!(
            where_.contains("BETWEEN 'fe80:0000:0000:0000:0000:0000:0000:0000' AND 'febf:ffff:"),
            "{where_}"
        );
    }

    #[test]
    fn an_empty_query_selects_everything() {
        assert_eq!(
            compile(&BoolQuery::default(), &SourceSchema::flat(&[])).expect("compiles"),
            "true"
        );
    }
}
