//! How a client is laid out as a DynamoDB item (attribute names and key
//! formats are [`super::layout`]'s): [`to_item`] and [`from_item`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::layout::{attr, client_sk, name_sort_key, org_pk, phone_sort_key, status_pk};
use crate::domain::model::{Client, ClientId, OrgId, Status, Timestamp};
use crate::domain::search::{fold_name, phone_digits};

/// A DynamoDB item, attribute by attribute.
pub type Item = HashMap<String, AttributeValue>;

/// The key of a client's item.
pub fn client_key(org: &OrgId, id: ClientId) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(org_pk(org))),
        (attr::SK.to_owned(), AttributeValue::S(client_sk(id))),
    ])
}

/// A client's item, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientItem {
    pub pk: String,
    pub sk: String,
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
    pub status_pk: String,
    pub created_sk: String,
    pub name_sk: String,
    pub phone_sk: String,
    pub name_fold: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_digits: Option<String>,
}

impl ClientItem {
    pub fn new(org: &OrgId, client: &Client) -> Self {
        let name_fold = fold_name(&client.name);
        Self {
            pk: org_pk(org),
            sk: client_sk(client.id),
            id: client.id.to_string(),
            name: client.name.clone(),
            phone: client.phone.clone(),
            status: client.status,
            notes: client.notes.clone(),
            created_at: client.created_at.to_rfc3339(),
            updated_at: client.updated_at.to_rfc3339(),
            version: client.version,
            status_pk: status_pk(org, client.status),
            created_sk: client.id.to_string(),
            name_sk: name_sort_key(&name_fold, client.id),
            phone_sk: phone_sort_key(client.phone.as_deref(), client.id),
            name_fold,
            phone_digits: client.phone.as_deref().map(phone_digits),
        }
    }

    pub fn into_client(self) -> Result<Client, StoreError> {
        let bad =
            |what: &str| StoreError::corrupt(format!("client item {}: unreadable {what}", self.sk));
        Ok(Client {
            id: ClientId::parse(&self.id).ok_or_else(|| bad("id"))?,
            created_at: Timestamp::parse(&self.created_at).ok_or_else(|| bad("createdAt"))?,
            updated_at: Timestamp::parse(&self.updated_at).ok_or_else(|| bad("updatedAt"))?,
            name: self.name,
            phone: self.phone,
            status: self.status,
            notes: self.notes,
            version: self.version,
        })
    }
}

/// A client's item in an organization.
pub fn to_item(org: &OrgId, client: &Client) -> Result<Item, StoreError> {
    serde_dynamo::to_item(ClientItem::new(org, client)).map_err(StoreError::corrupt)
}

/// The client an item holds.
pub fn from_item(item: Item) -> Result<Client, StoreError> {
    serde_dynamo::from_item::<_, ClientItem>(item)
        .map_err(StoreError::corrupt)?
        .into_client()
}

/// An active client at version 1 with a fresh id, for unit tests.
#[cfg(test)]
pub(crate) fn test_client(name: &str, phone: Option<&str>) -> Client {
    let id = ClientId::new();
    Client {
        id,
        name: name.into(),
        phone: phone.map(Into::into),
        status: Status::Active,
        notes: None,
        created_at: id.created_at(),
        updated_at: id.created_at(),
        version: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::id_from_sk;

    use super::test_client as client;

    #[test]
    fn items_round_trip_to_the_same_client() {
        let org: OrgId = "acme".parse().unwrap();
        let original = Client {
            notes: Some(String::new()),
            ..client("Zoë", Some("+1 555-1234"))
        };

        let back = from_item(to_item(&org, &original).unwrap()).unwrap();

        assert_eq!(back, original);
    }

    #[test]
    fn name_sort_keys_order_by_folded_name_then_id() {
        let (a, b) = (ClientId::new(), ClientId::new());

        assert!(
            name_sort_key("ann", b) < name_sort_key("anna", a),
            "prefix sorts first"
        );
        assert!(
            name_sort_key("ann", a) < name_sort_key("ann", b),
            "ties by id"
        );
        assert!(name_sort_key("ann zed", a) > name_sort_key("ann", b));
        assert!(name_sort_key("ann!", a) > name_sort_key("ann", b));
    }

    #[test]
    fn clients_without_phone_sort_after_every_phone() {
        let (a, b) = (ClientId::new(), ClientId::new());

        for phone in ["999", "+1 555", "(555) 1", ".5.5.5", "- 123"] {
            assert!(
                phone_sort_key(Some(phone), b) < phone_sort_key(None, a),
                "{phone}"
            );
        }
        assert!(phone_sort_key(None, a) < phone_sort_key(None, b));
    }

    #[test]
    fn item_keys_put_every_client_in_its_organization_partition() {
        let org: OrgId = "acme".parse().unwrap();
        let original = client("Ann", None);

        let item = ClientItem::new(&org, &original);

        assert_eq!(item.pk, "ORG#acme");
        assert_eq!(item.status_pk, "ORG#acme#STATUS#active");
        assert_eq!(id_from_sk(&item.sk), Some(original.id));
        assert_eq!(item.phone_digits, None);
    }
}
