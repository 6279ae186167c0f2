//! How a client is laid out as a DynamoDB item (attribute names and key
//! formats are [`super::layout`]'s): [`to_item`] and [`from_item`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::layout::{attr, client_sk, org_pk};
use crate::domain::model::{Client, ClientId, OrgId};
use crate::domain::search::{searchable_values, SEARCHABLE_FIELDS};

/// A DynamoDB item, attribute by attribute.
pub type Item = HashMap<String, AttributeValue>;

/// The key of a client's item.
pub fn client_key(org: &OrgId, id: ClientId) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(org_pk(org))),
        (attr::SK.to_owned(), AttributeValue::S(client_sk(id))),
    ])
}

/// A client's item: the client's own fields (described once, on
/// [`Client`]), its version and its keys; [`Self::to_attributes`] adds the
/// search fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientItem {
    pub pk: String,
    pub sk: String,
    #[serde(flatten)]
    pub client: Client,
    pub version: u64,
}

impl ClientItem {
    pub fn new(org: &OrgId, client: &Client) -> Self {
        Self::at(org_pk(org), client_sk(client.id), client)
    }

    /// The client under another key (an order item's, [`super::order`]).
    pub fn at(pk: String, sk: String, client: &Client) -> Self {
        Self {
            pk,
            sk,
            version: client.version,
            client: client.clone(),
        }
    }

    pub fn into_client(self) -> Client {
        Client {
            version: self.version,
            ..self.client
        }
    }

    /// The item's attributes, with the normalized value of each searchable
    /// field ([`SEARCHABLE_FIELDS`]) that search checks candidates against;
    /// absent fields (`phone`, `notes`) are left out rather than stored as `NULL`.
    pub fn to_attributes(&self) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(self).map_err(StoreError::corrupt)?;
        item.retain(|_, value| !matches!(value, AttributeValue::Null(true)));
        let values = searchable_values(&self.client);
        for (field, value) in SEARCHABLE_FIELDS.iter().zip(values) {
            if let Some(value) = value {
                item.insert(field.stored_as.to_owned(), AttributeValue::S(value));
            }
        }
        Ok(item)
    }
}

/// A client's item in an organization.
pub fn to_item(org: &OrgId, client: &Client) -> Result<Item, StoreError> {
    ClientItem::new(org, client).to_attributes()
}

/// The client an item holds.
pub fn from_item(item: Item) -> Result<Client, StoreError> {
    serde_dynamo::from_item::<_, ClientItem>(item)
        .map(ClientItem::into_client)
        .map_err(StoreError::corrupt)
}

/// An active client at version 1 with a fresh id, for unit tests.
#[cfg(test)]
pub(crate) fn test_client(name: &str, phone: Option<&str>) -> Client {
    use crate::domain::fields::{ClientName, Phone};
    use crate::domain::model::Status;
    let id = ClientId::new();
    Client {
        id,
        name: ClientName::parse(name).expect("a valid test name"),
        phone: phone.map(|p| Phone::parse(p).unwrap().expect("a valid test phone")),
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
    use crate::domain::fields::Notes;
    use crate::store::layout::{id_from_sk, name_sort_key, phone_sort_key};

    use super::test_client as client;

    #[test]
    fn items_round_trip_to_the_same_client() {
        let org: OrgId = "acme".parse().unwrap();
        let original = Client {
            notes: Some(Notes::parse("").unwrap()),
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
        let attributes = item.to_attributes().unwrap();

        assert_eq!(item.pk, "ORG#acme");
        assert!(
            !attributes.contains_key("statusPk"),
            "retired index keys are not written"
        );
        assert_eq!(id_from_sk(&item.sk), Some(original.id));
        assert_eq!(attributes["nameFold"], AttributeValue::S("ann".into()));
        assert!(!attributes.contains_key("phoneDigits"));
        assert!(!attributes.contains_key("phone"));
    }
}
