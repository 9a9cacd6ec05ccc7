//! Finding an ECS field in a file by its dotted name, whatever the file's layout.
//!
//! Input: a file's Arrow schema and an ECS name (`destination.port`). Output: the column path to
//! it: one flat dotted column (`["destination.port"]`), nested structs (`["destination", "port"]`)
//! or a mix (`["host", "os.type"]`), then the Parquet leaves under that path (to decode only those)
//! and the array at that path in a decoded batch.

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Fields};
use arrow::record_batch::RecordBatch;
use parquet::schema::types::SchemaDescriptor;

/// The column names from a root column down to an ECS field.
pub type FieldPath = Vec<String>;

/// Where `name` lives among `fields`: a column named exactly `name` wins, then struct columns
/// named by its shortest dotted prefix first.
pub fn resolve(fields: &Fields, name: &str) -> Option<FieldPath> {
    if fields.iter().any(|f| f.name() == name) {
        return Some(vec![name.to_string()]);
    }
    nested(fields, name)
}

/// Where `name` lives inside struct columns, ignoring a flat column of that exact name.
pub fn nested(fields: &Fields, name: &str) -> Option<FieldPath> {
    name.match_indices('.').find_map(|(at, _)| {
        let (head, rest) = (&name[..at], &name[at + 1..]);
        let field = fields.iter().find(|f| f.name() == head)?;
        let DataType::Struct(children) = field.data_type() else {
            return None;
        };
        let mut path = resolve(children, rest)?;
        path.insert(0, head.to_string());
        Some(path)
    })
}

/// Indices of the Parquet leaf columns under `path` (one for a scalar, one per leaf of a struct
/// or list).
pub fn leaves(schema: &SchemaDescriptor, path: &[String]) -> Vec<usize> {
    let under = |parts: &[String]| parts.len() >= path.len() && parts[..path.len()] == *path;
    (0..schema.num_columns())
        .filter(|&i| under(schema.column(i).path().parts()))
        .collect()
}

/// The array at `path` in a batch decoded with `path`'s leaves. The Parquet reader marks a struct
/// child null wherever its parent is null (definition levels), so the child is returned as is.
pub fn extract(batch: &RecordBatch, path: &[String]) -> Option<ArrayRef> {
    let (root, rest) = path.split_first()?;
    let mut array = batch.column_by_name(root)?.clone();
    for name in rest {
        let child = array.as_struct_opt()?.column_by_name(name)?.clone();
        array = child;
    }
    Some(array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowSchemaConverter;

    fn text(name: &str) -> Field {
        Field::new(name, DataType::Utf8, true)
    }

    fn strukt(name: &str, children: Vec<Field>) -> Field {
        Field::new(name, DataType::Struct(children.into()), true)
    }

    fn schema() -> Schema {
        Schema::new(vec![
            text("destination.port"),
            strukt("source", vec![text("port"), text("ip")]),
            strukt(
                "host",
                vec![text("os.type"), strukt("os", vec![text("family")])],
            ),
            strukt(
                "event",
                vec![Field::new_list(
                    "category",
                    Field::new_list_field(DataType::Utf8, true),
                    true,
                )],
            ),
        ])
    }

    fn path(parts: &[&str]) -> Option<FieldPath> {
        Some(parts.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn names_resolve_flat_nested_and_mixed() {
        let fields = schema().fields().clone();
        assert_eq!(
            resolve(&fields, "destination.port"),
            path(&["destination.port"])
        );
        assert_eq!(resolve(&fields, "source.port"), path(&["source", "port"]));
        assert_eq!(resolve(&fields, "host.os.type"), path(&["host", "os.type"]));
        assert_eq!(
            resolve(&fields, "host.os.family"),
            path(&["host", "os", "family"])
        );
        assert_eq!(resolve(&fields, "host.name"), None);
        assert_eq!(resolve(&fields, "destination"), None);
        assert_eq!(nested(&fields, "destination.port"), None);
        assert_eq!(nested(&fields, "source.port"), path(&["source", "port"]));
    }

    #[test]
    fn leaves_cover_lists_and_structs() {
        let descriptor = ArrowSchemaConverter::new().convert(&schema()).unwrap();
        let fields = schema().fields().clone();
        let leaf_names = |name: &str| -> Vec<String> {
            let found = resolve(&fields, name).unwrap();
            leaves(&descriptor, &found)
                .iter()
                .map(|&i| descriptor.column(i).path().parts().join("/"))
                .collect()
        };
        assert_eq!(leaf_names("source.port"), ["source/port"]);
        assert_eq!(leaf_names("destination.port"), ["destination.port"]);
        assert_eq!(leaf_names("event.category"), ["event/category/list/item"]);
        assert_eq!(leaves(&descriptor, &path(&["source"]).unwrap()).len(), 2);
        assert_eq!(leaves(&descriptor, &path(&["sour"]).unwrap()).len(), 0);
    }
}
