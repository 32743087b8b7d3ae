//! DynamoDB at [`Moto`]: the SDK configuration that points a client at it, and the tables the
//! tests create, described once ([`Table`]).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::Moto;

impl Moto {
    /// The SDK configuration that points every client at this server, with dummy credentials
    /// in `us-east-1`.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// A DynamoDB client at this server, with the SDK's standard configuration.
    pub async fn dynamodb(&self) -> Client {
        Client::new(&self.sdk_config().await)
    }
}

/// A table to create, on demand: its key and its global secondary indexes (each projecting
/// every attribute).
#[derive(Debug, Clone)]
pub struct Table {
    name: String,
    attributes: Vec<(String, ScalarAttributeType)>,
    key: Vec<(String, KeyType)>,
    indexes: Vec<(String, Vec<(String, KeyType)>)>,
}

impl Table {
    /// A table named `name` with the partition key `partition` of type `kind`.
    #[must_use]
    pub fn new(name: &str, partition: &str, kind: ScalarAttributeType) -> Self {
        let mut table = Self {
            name: name.to_owned(),
            attributes: Vec::new(),
            key: Vec::new(),
            indexes: Vec::new(),
        };
        table.attribute(partition, kind);
        table.key.push((partition.to_owned(), KeyType::Hash));
        table
    }

    /// With the sort key `sort` of type `kind`.
    #[must_use]
    pub fn sort_key(mut self, sort: &str, kind: ScalarAttributeType) -> Self {
        self.attribute(sort, kind);
        self.key.push((sort.to_owned(), KeyType::Range));
        self
    }

    /// With the index `name` on `partition` and `sort` (name and type each), projecting every
    /// attribute.
    #[must_use]
    pub fn index(
        mut self,
        name: &str,
        partition: (&str, ScalarAttributeType),
        sort: (&str, ScalarAttributeType),
    ) -> Self {
        self.attribute(partition.0, partition.1);
        self.attribute(sort.0, sort.1);
        self.indexes.push((
            name.to_owned(),
            vec![
                (partition.0.to_owned(), KeyType::Hash),
                (sort.0.to_owned(), KeyType::Range),
            ],
        ));
        self
    }

    fn attribute(&mut self, name: &str, kind: ScalarAttributeType) {
        if !self.attributes.iter().any(|(known, _)| known == name) {
            self.attributes.push((name.to_owned(), kind));
        }
    }

    /// Creates the table, billed on demand.
    ///
    /// # Panics
    ///
    /// When the server does not create it.
    pub async fn create(&self, client: &Client) {
        let key = |(name, kind): &(String, KeyType)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind.clone())
                .build()
                .expect("a complete key schema element")
        };
        let mut request = client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(self.key.iter().map(key).collect()));
        for (name, kind) in &self.attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(kind.clone())
                    .build()
                    .expect("a complete attribute definition"),
            );
        }
        for (name, schema) in &self.indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .set_key_schema(Some(schema.iter().map(key).collect()))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("a complete index"),
            );
        }
        request.send().await.expect("moto creates the table");
    }
}

/// Creates `name` with the partition key `pk` (a string), on demand, as the idempotency store
/// and the ledger use it.
pub async fn key_table(client: &Client, name: &str) {
    Table::new(name, "pk", ScalarAttributeType::S)
        .create(client)
        .await;
}
