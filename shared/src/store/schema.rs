//! The table's definition: key attributes, global secondary indexes and their
//! projections. `clients-admin create-table` builds the table from it and a
//! test checks that `template.yaml` declares exactly the same.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::{json, Value};

use super::{StoreError, Table};

/// Attribute names of the table's keys and index keys.
pub mod attr {
    /// The table's partition key: `ORG#<org>`, `APIKEY#<hash>`, or a search
    /// index partition `ORG#<org>#NAME#<c>` / `ORG#<org>#PHONE#<d>`.
    pub const PK: &str = "pk";
    /// The table's sort key: `CLIENT#<id>`, `COUNTS…`, `IDEM#<key>`, `KEY#<id>`,
    /// `APIKEY`, or a search index entry's `<suffix>\x01<id>`.
    pub const SK: &str = "sk";
    /// The `byStatus*` indexes' partition key.
    pub const STATUS_PK: &str = "statusPk";
    /// Sort key by creation (the id).
    pub const CREATED_SK: &str = "createdSk";
    /// Sort key by folded name, then id.
    pub const NAME_SK: &str = "nameSk";
    /// Sort key by phone, then id.
    pub const PHONE_SK: &str = "phoneSk";
    /// The case-folded name search matches.
    pub const NAME_FOLD: &str = "nameFold";
    /// The phone's digits search matches.
    pub const PHONE_DIGITS: &str = "phoneDigits";
    /// The phone as given.
    pub const PHONE: &str = "phone";
    /// `active` or `inactive`.
    pub const STATUS: &str = "status";
    /// Epoch seconds after which DynamoDB's TTL may delete the item (idempotency records).
    pub const EXPIRES_AT: &str = "expiresAt";
}

/// The table's time-to-live attribute.
pub const TTL_ATTRIBUTE: &str = attr::EXPIRES_AT;

/// What an index carries besides its keys and the table's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexProjection {
    /// Only the keys.
    KeysOnly,
    /// The keys and these attributes.
    Include(&'static [&'static str]),
}

/// A global secondary index of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDefinition {
    /// Its name.
    pub name: &'static str,
    /// Its partition key attribute.
    pub partition_key: &'static str,
    /// Its sort key attribute.
    pub sort_key: &'static str,
    /// What else it carries.
    pub projection: IndexProjection,
}

/// Organization-wide, by creation; carries what search matches and sorts on.
pub const BY_CREATED: IndexDefinition = IndexDefinition {
    name: "byCreated",
    partition_key: attr::PK,
    sort_key: attr::CREATED_SK,
    projection: IndexProjection::Include(&[
        attr::NAME_FOLD,
        attr::PHONE_DIGITS,
        attr::PHONE,
        attr::STATUS,
    ]),
};
/// Organization-wide, by folded name.
pub const BY_NAME: IndexDefinition = keys_only("byName", attr::PK, attr::NAME_SK);
/// Organization-wide, by phone.
pub const BY_PHONE: IndexDefinition = keys_only("byPhone", attr::PK, attr::PHONE_SK);
/// One status of an organization, by creation.
pub const BY_STATUS_CREATED: IndexDefinition =
    keys_only("byStatusCreated", attr::STATUS_PK, attr::CREATED_SK);
/// One status of an organization, by folded name.
pub const BY_STATUS_NAME: IndexDefinition =
    keys_only("byStatusName", attr::STATUS_PK, attr::NAME_SK);
/// One status of an organization, by phone.
pub const BY_STATUS_PHONE: IndexDefinition =
    keys_only("byStatusPhone", attr::STATUS_PK, attr::PHONE_SK);

/// Every index of the table.
pub const INDEXES: [IndexDefinition; 6] = [
    BY_CREATED,
    BY_NAME,
    BY_PHONE,
    BY_STATUS_CREATED,
    BY_STATUS_NAME,
    BY_STATUS_PHONE,
];

const fn keys_only(
    name: &'static str,
    partition_key: &'static str,
    sort_key: &'static str,
) -> IndexDefinition {
    IndexDefinition {
        name,
        partition_key,
        sort_key,
        projection: IndexProjection::KeysOnly,
    }
}

/// Every key attribute of the table and its indexes (all strings), sorted.
pub fn key_attributes() -> Vec<&'static str> {
    let mut names = vec![attr::PK, attr::SK];
    for index in INDEXES {
        names.extend([index.partition_key, index.sort_key]);
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// The definition in CloudFormation's `AWS::DynamoDB::Table` property form
/// (`AttributeDefinitions`, `KeySchema`, `GlobalSecondaryIndexes`,
/// `TimeToLiveSpecification`), which
/// `template.yaml` must match.
pub fn cloudformation_properties() -> Value {
    let key_schema = |hash: &str, range: &str| {
        json!([
            {"AttributeName": hash, "KeyType": "HASH"},
            {"AttributeName": range, "KeyType": "RANGE"},
        ])
    };
    let indexes: Vec<Value> = INDEXES
        .iter()
        .map(|index| {
            let projection = match index.projection {
                IndexProjection::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
                IndexProjection::Include(attrs) => {
                    json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": attrs})
                }
            };
            json!({
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": projection,
            })
        })
        .collect();
    json!({
        "AttributeDefinitions": key_attributes()
            .into_iter()
            .map(|name| json!({"AttributeName": name, "AttributeType": "S"}))
            .collect::<Vec<_>>(),
        "KeySchema": key_schema(attr::PK, attr::SK),
        "GlobalSecondaryIndexes": indexes,
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": true},
    })
}

/// Creates the table (on-demand capacity) unless it exists. Returns whether it was created.
pub async fn create_table(table: &Table) -> Result<bool, StoreError> {
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("name and type are set")
    };
    let mut request = table
        .client
        .create_table()
        .table_name(&table.name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(attr::PK, KeyType::Hash))
        .key_schema(key(attr::SK, KeyType::Range));
    for name in key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set"),
        );
    }
    for index in INDEXES {
        let projection = match index.projection {
            IndexProjection::KeysOnly => {
                Projection::builder().projection_type(ProjectionType::KeysOnly)
            }
            IndexProjection::Include(attrs) => attrs.iter().fold(
                Projection::builder().projection_type(ProjectionType::Include),
                |projection, name| projection.non_key_attributes(*name),
            ),
        };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition_key, KeyType::Hash))
                .key_schema(key(index.sort_key, KeyType::Range))
                .projection(projection.build())
                .build()
                .expect("name, keys and projection are set"),
        );
    }
    match request.send().await {
        Ok(_) => {
            let ttl = TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("name and switch are set");
            table
                .client
                .update_time_to_live()
                .table_name(&table.name)
                .time_to_live_specification(ttl)
                .send()
                .await?;
            Ok(true)
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_key_is_declared_once_as_a_string() {
        let properties = cloudformation_properties();
        let declared = properties["AttributeDefinitions"].as_array().unwrap();

        assert_eq!(
            declared.len(),
            6,
            "pk, sk, statusPk, createdSk, nameSk, phoneSk"
        );
        assert!(declared.iter().all(|d| d["AttributeType"] == "S"));
    }

    #[test]
    fn index_names_are_unique() {
        let mut names: Vec<_> = INDEXES.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();

        assert_eq!(names.len(), INDEXES.len());
    }
}
