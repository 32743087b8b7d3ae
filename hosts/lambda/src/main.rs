//! `bootstrap`: the Lambda entry point. Reads and validates the settings, builds the clients
//! once, then serves invocations until Lambda stops the instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use mailroom_core::{BatchResponse, SqsEvent};
use mailroom_lambda::handler::{HandlerError, Invocation, Notifier};
use mailroom_lambda::mailer::SesMailer;
use mailroom_lambda::queue::SqsQueue;
use mailroom_lambda::settings::Settings;
use mailroom_lambda::templates::{CodeCommitSource, LoadOptions, TemplateCache};
use mailroom_lambda::{aws, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    let settings = match Settings::from_lookup(|name| vars.get(name).cloned()) {
        Ok(settings) => settings,
        Err(error) => {
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
    let mailer = SesMailer::new(aws::ses_client(&sdk), settings.configuration_set.clone());
    let queue = SqsQueue::new(aws::sqs_client(&sdk));
    let function_name = vars
        .get("AWS_LAMBDA_FUNCTION_NAME")
        .cloned()
        .unwrap_or_default();
    let notifier = Notifier::new(settings, mailer, queue, cache, function_name);
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let invocation = Invocation::from_context(&event.context);
        let response: Result<BatchResponse, HandlerError> =
            notifier.handle(&event.payload, &invocation).await;
        response
    }))
    .await
}
