//! The table's definition, for creating it: `clients-admin create-table`
//! builds the table from [`super::super::layout`]'s indexes, and a test
//! checks that `template.yaml` declares exactly the same
//! ([`cloudformation_properties`]).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use serde_json::{json, Value};

use crate::store::error::StoreError;
use crate::store::layout::{attr, IndexProjection, INDEXES, TTL_ATTRIBUTE};
use crate::store::table::Table;

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
    let created = match request.send().await {
        Ok(_) => true,
        // Exists already (or an earlier attempt of this call, whose answer
        // was a server error, created it).
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            false
        }
        Err(error) => return Err(error.into()),
    };
    ensure_time_to_live(table).await?;
    Ok(created)
}

/// Turns the table's time to live on unless it is on already. Read first
/// and again after a failed update: an update whose answer was a server
/// error may have been applied, and its retry is then refused.
async fn ensure_time_to_live(table: &Table) -> Result<(), StoreError> {
    let mut last_error = None;
    for _ in 0..3 {
        let described = table
            .client
            .describe_time_to_live()
            .table_name(&table.name)
            .send()
            .await?;
        let status = described
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .expect("name and switch are set");
        match table
            .client
            .update_time_to_live()
            .table_name(&table.name)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(error) => last_error = Some(StoreError::from(error)),
        }
    }
    Err(last_error.unwrap_or_else(|| StoreError::failed("time to live not enabled")))
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
