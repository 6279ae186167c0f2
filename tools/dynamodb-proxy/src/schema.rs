//! What the proxy knows of a table: its key attributes and its global
//! secondary indexes, learnt from the upstream's `DescribeTable` answer
//! (never hard-coded), and the keys of items in the wire's JSON.

use serde_json::{Map, Value};

/// A global secondary index: its name, ARN, keys and projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Its ARN, as the upstream reports it.
    pub arn: String,
    /// Its partition key attribute.
    pub partition_key: String,
    /// Its sort key attribute, if any.
    pub sort_key: Option<String>,
    /// `None` for `ALL`; otherwise the non-key attributes it carries.
    pub projected: Option<Vec<String>>,
}

/// A table's keys and indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The table's name.
    pub name: String,
    /// Its ARN, as the upstream reports it.
    pub arn: String,
    /// Its partition key attribute.
    pub partition_key: String,
    /// Its sort key attribute, if any.
    pub sort_key: Option<String>,
    /// Its global secondary indexes.
    pub indexes: Vec<Index>,
}

/// The (hash, range) attribute names of a `KeySchema` list.
fn key_schema(keys: &Value) -> Option<(String, Option<String>)> {
    let mut hash = None;
    let mut range = None;
    for key in keys.as_array()? {
        let name = key["AttributeName"].as_str()?.to_owned();
        match key["KeyType"].as_str()? {
            "HASH" => hash = Some(name),
            _ => range = Some(name),
        }
    }
    Some((hash?, range))
}

impl TableSchema {
    /// Reads a `DescribeTable` answer (`{"Table": {…}}`).
    pub fn from_describe(answer: &Value) -> Option<Self> {
        let table = &answer["Table"];
        let (partition_key, sort_key) = key_schema(&table["KeySchema"])?;
        let indexes = table["GlobalSecondaryIndexes"]
            .as_array()
            .map(|indexes| {
                indexes
                    .iter()
                    .filter_map(|index| {
                        let (partition_key, sort_key) = key_schema(&index["KeySchema"])?;
                        let projection = &index["Projection"];
                        let projected = match projection["ProjectionType"].as_str() {
                            Some("ALL") => None,
                            _ => Some(
                                projection["NonKeyAttributes"]
                                    .as_array()
                                    .map(|names| {
                                        names
                                            .iter()
                                            .filter_map(|n| n.as_str().map(str::to_owned))
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            ),
                        };
                        Some(Index {
                            name: index["IndexName"].as_str()?.to_owned(),
                            arn: index["IndexArn"].as_str().unwrap_or_default().to_owned(),
                            partition_key,
                            sort_key,
                            projected,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            name: table["TableName"].as_str()?.to_owned(),
            arn: table["TableArn"].as_str().unwrap_or_default().to_owned(),
            partition_key,
            sort_key,
            indexes,
        })
    }

    /// The primary key of an item (or of a `Key`) as canonical text: the
    /// key attributes' values in schema order.
    pub fn key_of(&self, item: &Map<String, Value>) -> String {
        let mut key = vec![item
            .get(&self.partition_key)
            .cloned()
            .unwrap_or(Value::Null)];
        if let Some(sort) = &self.sort_key {
            key.push(item.get(sort).cloned().unwrap_or(Value::Null));
        }
        Value::Array(key).to_string()
    }

    /// Only the key attributes of an item, as a `Key` map.
    pub fn key_map(&self, item: &Map<String, Value>) -> Map<String, Value> {
        std::iter::once(&self.partition_key)
            .chain(self.sort_key.as_ref())
            .filter_map(|name| Some((name.clone(), item.get(name)?.clone())))
            .collect()
    }

    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }
}

impl Index {
    /// The size of the item's entry in this index (its keys, the table's
    /// keys and the projected attributes), or `None` if the item lacks the
    /// index's keys (it is not in the index).
    pub fn entry_size(&self, table: &TableSchema, item: &Map<String, Value>) -> Option<u64> {
        if !item.contains_key(&self.partition_key)
            || self
                .sort_key
                .as_ref()
                .is_some_and(|s| !item.contains_key(s))
        {
            return None;
        }
        let entry: Map<String, Value> = match &self.projected {
            None => item.clone(),
            Some(projected) => item
                .iter()
                .filter(|(name, _)| {
                    **name == self.partition_key
                        || self.sort_key.as_ref() == Some(*name)
                        || **name == table.partition_key
                        || table.sort_key.as_ref() == Some(*name)
                        || projected.contains(name)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        Some(crate::size::item_size(&entry))
    }
}

/// A table `t` (`pk`, `sk`) with one index `byG` on `g` of this projection type, for tests.
#[cfg(test)]
pub(crate) fn example(projection: &str) -> TableSchema {
    TableSchema::from_describe(&serde_json::json!({"Table": {
        "TableName": "t", "TableArn": "arn:t",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": "byG", "IndexArn": "arn:t/index/byG",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": projection}
        }]
    }}))
    .expect("a valid DescribeTable answer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> TableSchema {
        example("KEYS_ONLY")
    }

    #[test]
    fn a_describe_answer_gives_keys_and_indexes() {
        let schema = schema();

        assert_eq!(
            (schema.partition_key.as_str(), schema.sort_key.as_deref()),
            ("pk", Some("sk"))
        );
        assert_eq!(schema.indexes[0].partition_key, "g");
        assert_eq!(schema.indexes[0].projected, Some(vec![]));
    }

    #[test]
    fn an_item_is_in_an_index_only_with_its_keys() {
        let schema = schema();
        let with = json!({"pk": {"S": "a"}, "sk": {"S": "b"}, "g": {"S": "c"}, "x": {"S": "long"}});
        let without = json!({"pk": {"S": "a"}, "sk": {"S": "b"}});

        let index = &schema.indexes[0];

        // keys only: pk 2+1, sk 2+1, g 1+1
        assert_eq!(
            index.entry_size(&schema, with.as_object().unwrap()),
            Some(8)
        );
        assert_eq!(
            index.entry_size(&schema, without.as_object().unwrap()),
            None
        );
    }
}
