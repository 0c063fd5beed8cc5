//! AWS resources the functions' tests create on moto themselves (where the template's strict moto
//! plan does not): the chat-ops idempotency table as the template defines it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};

/// Creates the idempotency table `name` as the template's: `pk` the hash key, on demand, expiry in
/// the TTL attribute `expires_at`.
///
/// # Panics
/// When moto refuses.
pub async fn create_idempotency_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    let attr = AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build();
    let key = KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build();
    let (Ok(attr), Ok(key)) = (attr, key) else { panic!("the table's key is complete") };
    let created = ddb
        .create_table()
        .table_name(name)
        .attribute_definitions(attr)
        .key_schema(key)
        .billing_mode(BillingMode::PayPerRequest);
    created.send().await.unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
    let Ok(ttl) = TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build() else {
        panic!("the TTL specification is complete")
    };
    let update = ddb.update_time_to_live().table_name(name).time_to_live_specification(ttl);
    update.send().await.unwrap_or_else(|e| panic!("UpdateTimeToLive {name}: {e:?}"));
}
