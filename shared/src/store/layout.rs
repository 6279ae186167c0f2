//! The table's vocabulary: attribute names, the key format of every kind of
//! item, and the global secondary indexes (names, keys, projections). A leaf:
//! it imports nothing of the store, so that every other module can use it.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | client | `ORG#<org>` | `CLIENT#<id>` |
//! | counts shard | `ORG#<org>` | `COUNTS` (shard 0), `COUNTS#<nnn>` |
//! | idempotency record | `ORG#<org>` | `IDEM#<key>` |
//! | API key listing | `ORG#<org>` | `KEY#<key id>` |
//! | API key look-up | `APIKEY#<sha256>` | `APIKEY` |
//! | search index entry | `ORG#<org>#<FIELD>#<first char>` | `<suffix>\x01<id>` |
//! | order item | `ORG#<org>#BY#<FIELD>`, `ORG#<org>#BY#<FIELD>#<status>` | `<id>`, `<folded name>\x01<id>`, `<phone>\x01<id>` |
//!
//! Lists read order items (`super::order`), written in each client's own
//! transaction, not the global secondary indexes below: those are
//! retired. No item written now carries their keys (`statusPk`,
//! `createdSk`, `nameSk`, `phoneSk`), so they only hold clients written
//! before, until those are next written; they stay declared until a
//! deployment drops them (CloudFormation changes one index per update).
//! A client item carries the search fields (`nameFold`, `phoneDigits`).
//!
//! The `\x01` separator sorts below every character a name or phone may hold
//! (names refuse control characters), so comparing sort keys compares
//! `(field, id)`: ties are broken by id. `~` sorts above every phone
//! character, so clients without a phone come last ascending and first
//! descending.

use crate::domain::model::{ClientId, OrgId, Status};

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

/// Retired (see the module header): organization-wide, by creation.
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

/// Every index of the table, all retired (see the module header).
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

/// Ends the field part of a sort key (see the module header).
pub const SORT_KEY_SEPARATOR: char = '\u{1}';
const NO_PHONE: &str = "~";
/// What every client item's `sk` starts with (a `begins_with` on it selects
/// an organization's clients).
pub const CLIENT_SK_PREFIX: &str = "CLIENT#";

/// The partition key of every item of an organization.
pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// The sort key of a client's item.
pub fn client_sk(id: ClientId) -> String {
    format!("{CLIENT_SK_PREFIX}{id}")
}

/// The id in a client item's `sk`.
pub fn id_from_sk(sk: &str) -> Option<ClientId> {
    ClientId::parse(sk.strip_prefix(CLIENT_SK_PREFIX)?)
}

/// The `nameSk` of a client: folded name, then id.
pub fn name_sort_key(name_fold: &str, id: ClientId) -> String {
    format!("{name_fold}{SORT_KEY_SEPARATOR}{id}")
}

/// The `phoneSk` of a client: phone (or `~` for none), then id.
pub fn phone_sort_key(phone: Option<&str>, id: ClientId) -> String {
    format!("{}{SORT_KEY_SEPARATOR}{id}", phone.unwrap_or(NO_PHONE))
}

/// What a list can be ordered by, as stored: each is a partition of order
/// items ([`order_pk`]) whose sort key is [`OrderField::sort_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    /// By creation: the id (UUID v7: creation instant, then id).
    Created,
    /// By folded name, then id.
    Name,
    /// By phone (none last), then id.
    Phone,
}

impl OrderField {
    /// Every order, as written for each client.
    pub const ALL: [Self; 3] = [Self::Created, Self::Name, Self::Phone];

    fn tag(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Name => "NAME",
            Self::Phone => "PHONE",
        }
    }

    /// A client's sort key in this order.
    pub fn sort_key(self, name_fold: &str, phone: Option<&str>, id: ClientId) -> String {
        match self {
            Self::Created => id.to_string(),
            Self::Name => name_sort_key(name_fold, id),
            Self::Phone => phone_sort_key(phone, id),
        }
    }
}

/// The partition of an order's items: organization-wide (`status` None,
/// `ORG#<org>#BY#<FIELD>`) or of one status (`ORG#<org>#BY#<FIELD>#<status>`).
pub fn order_pk(org: &OrgId, field: OrderField, status: Option<Status>) -> String {
    match status {
        None => format!("{}#BY#{}", org_pk(org), field.tag()),
        Some(status) => format!("{}#BY#{}#{status}", org_pk(org), field.tag()),
    }
}

/// The sort key of counts shard 0 (the counts item of unsharded data), and
/// the prefix of every counts shard's sort key.
pub const COUNTS_SK: &str = "COUNTS";

/// The sort key of a counts shard.
pub fn shard_sk(shard: u16) -> String {
    if shard == 0 {
        COUNTS_SK.to_owned()
    } else {
        format!("{COUNTS_SK}#{shard:03}")
    }
}

/// The sort key of an idempotency record.
pub fn idempotency_sk(key: &str) -> String {
    format!("IDEM#{key}")
}

/// The sort key of an API key's look-up item.
pub const KEY_LOOKUP_SK: &str = "APIKEY";
/// What the sort key of every API key listing item starts with.
pub const KEY_LISTING_SK_PREFIX: &str = "KEY#";

/// The partition key of an API key's look-up item, by the key's hash (or
/// any text, for a look-up that can find nothing).
pub fn key_lookup_pk(hash: &str) -> String {
    format!("APIKEY#{hash}")
}

/// The sort key of an API key's listing item.
pub fn key_listing_sk(key_id: &str) -> String {
    format!("{KEY_LISTING_SK_PREFIX}{key_id}")
}

/// The partition of a search index: one per organization, searchable field
/// (its tag, e.g. `NAME`) and first character of the indexed suffixes.
pub fn search_partition(org: &OrgId, field_tag: &str, first: char) -> String {
    format!("{}#{field_tag}#{first}", org_pk(org))
}
