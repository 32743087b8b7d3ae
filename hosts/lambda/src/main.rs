//! `bootstrap`: the Lambda entry point. Reads and validates the settings, builds the clients
//! once, then serves invocations until Lambda stops the instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use mailroom_lambda::feedback::{DynamoDbLedger, IntakeSettings};
use mailroom_lambda::handler::{FeedbackIntake, HandlerError, Invocation, Notifier};
use mailroom_lambda::idempotency::dynamodb::{self, DynamoDbStore};
use mailroom_lambda::idempotency::{IdempotencySettings, IdempotentMailer, LeaseClock};
use mailroom_lambda::lookups::DynamoDbReader;
use mailroom_lambda::mailer::{Channels, SesMailer};
use mailroom_lambda::queue::SqsQueue;
use mailroom_lambda::settings::Settings;
use mailroom_lambda::sms::SnsSender;
use mailroom_lambda::templates::{CodeCommitSource, LoadOptions, TemplateCache};
use mailroom_lambda::{aws, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    let lookup = |name: &str| vars.get(name).cloned();
    let settings = Settings::from_lookup(lookup).map_err(|error| error.to_string());
    let idempotency = IdempotencySettings::from_lookup(lookup).map_err(|error| error.to_string());
    let (settings, idempotency) = match (settings, idempotency) {
        (Ok(settings), Ok(idempotency)) => (settings, idempotency),
        (Err(error), _) | (_, Err(error)) => {
            // Lambda reports the init failure with this log line; no record is touched.
            tracing::error!(error = %error, "invalid configuration");
            eprintln!("mailroom: invalid configuration: {error}");
            std::process::exit(2);
        }
    };
    let sdk = aws::sdk_config(&settings.region).await;
    let source = CodeCommitSource::new(
        aws::codecommit_client(&sdk),
        &settings.repository,
        &settings.branch,
    );
    let options = LoadOptions {
        routes_file: settings.routes_file.clone(),
        template_folder: settings.template_folder.clone(),
        vars: Arc::new(vars.clone()),
    };
    let cache = TemplateCache::new(source, options, settings.template_cache);
    // Every send claims its idempotency key first when IDEMPOTENCY_TABLE is set; claims last
    // until the current invocation's deadline, which the clock is told below.
    let clock = idempotency
        .as_ref()
        .map_or_else(LeaseClock::default, |idempotency| {
            LeaseClock::with_grace(idempotency.lease_grace)
        });
    let store = idempotency.map(|idempotency| {
        DynamoDbStore::new(
            dynamodb::client(&sdk),
            idempotency.table,
            idempotency.retention,
        )
    });
    // The delivery ledger (LEDGER_TABLE): written by the feedback intake, read by a takeover
    // of an expired claim so that an email SES already has is not sent again.
    let ledger = settings
        .ledger
        .as_ref()
        .map(|ledger| DynamoDbLedger::new(dynamodb::client(&sdk), &ledger.table, ledger.retention));
    // Emails through SES, texts through SNS; each message claims its own key.
    let channels = Channels::new(
        SesMailer::new(aws::ses_client(&sdk)),
        SnsSender::new(aws::sns_client(&sdk)),
    );
    let mailer = IdempotentMailer::new(channels, store, clock.clone()).with_ledger(ledger.clone());
    let queue = SqsQueue::new(aws::sqs_client(&sdk));
    // Lookups read the tables the routes name; building the client calls nothing, so a
    // deployment without lookups pays nothing for it.
    let reader = DynamoDbReader::new(aws::dynamodb_lookup_client(&sdk));
    let function_name = vars
        .get("AWS_LAMBDA_FUNCTION_NAME")
        .cloned()
        .unwrap_or_default();
    let (queue_arns, suppression) = (settings.feedback_queue_arns.clone(), settings.suppression);
    let notifier = Notifier::new(settings, mailer, queue, cache, reader, function_name);
    // A function that also serves the feedback queue writes its records to the ledger.
    let notifier =
        notifier.with_feedback(ledger.filter(|_| !queue_arns.is_empty()).map(|ledger| {
            FeedbackIntake {
                ledger,
                queue_arns,
                settings: IntakeSettings {
                    policy: suppression,
                    ..IntakeSettings::default()
                },
            }
        }));
    let notifier = &notifier;
    let clock = &clock;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<serde_json::value::RawValue>>| async move {
            clock.set_deadline(event.context.deadline);
            let invocation = Invocation::from_context(&event.context);
            // An SQS batch from the event source mappings, or an SNS topic invoking directly;
            // the core reads the text as it arrived (a batch can be megabytes).
            let payload = mailroom_core::invocation::Invocation::from_json(event.payload.get())
                .map_err(HandlerError::from)?;
            notifier.handle_invocation(payload, &invocation).await
        },
    ))
    .await
}
