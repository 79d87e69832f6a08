//! Lambda's event-source pollers, emulated: SQS queues and DynamoDB Streams.

mod backoff;
mod batch_response;
pub mod sqs;
mod sqs_event;
mod stream_event;
pub mod streams;
