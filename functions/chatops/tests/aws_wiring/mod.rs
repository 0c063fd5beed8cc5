//! The callback → SQS → worker wiring on moto, shared by the binary tests: the AWS variables that
//! point the SDKs at moto, the job queue and the idempotency table (key `pk`, as the template's).

/// Creates the queue `queue` and the table `table` on moto at `url`; returns the AWS variables for
/// the binaries, an SQS client on moto and the queue's URL.
pub async fn moto_queue_and_table(
    url: &str,
    queue: &str,
    table: &str,
) -> (Vec<(String, String)>, aws_sdk_sqs::Client, String) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let aws = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL_SQS", url),
        ("AWS_ENDPOINT_URL_DYNAMODB", url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue_url = sqs.create_queue().queue_name(queue).send().await.unwrap().queue_url.unwrap();
    aws_sdk_dynamodb::Client::new(&conf)
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    (aws, sqs, queue_url)
}
