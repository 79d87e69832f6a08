//! What became of a batch, read from the function's answer as Lambda reads
//! it: a function error fails the whole batch, and with
//! `ReportBatchItemFailures` the answer `{"batchItemFailures":
//! [{"itemIdentifier": ...}]}` names the records that failed (SQS message ids,
//! or DynamoDB Streams sequence numbers).

use std::collections::HashSet;

use serde_json::Value;

use crate::lambda::{Invocation, InvokeError};

/// Longest function error message quoted in the invocation log line.
const QUOTED_ERROR_CHARS: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    Succeeded,
    /// The function reported these records (in the order it named them, each
    /// once) as failed; the others succeeded.
    PartlyFailed(Vec<String>),
    /// Nothing succeeded: the function failed, could not be invoked, or gave
    /// an answer Lambda cannot read. The reason is for the log.
    Failed(String),
}

impl BatchOutcome {
    /// Reads an invocation of a batch whose records have `identifiers`.
    pub fn of(result: &Result<Invocation, InvokeError>, reports_item_failures: bool, identifiers: &[&str]) -> Self {
        match result {
            Err(error) => Self::Failed(error.to_string()),
            Ok(invocation) if invocation.function_error => Self::Failed(function_error(&invocation.payload)),
            // Without ReportBatchItemFailures Lambda ignores what the function returns.
            Ok(_) if !reports_item_failures => Self::Succeeded,
            Ok(invocation) => read_item_failures(&invocation.payload, identifiers),
        }
    }

    /// The status in the invocation's log line.
    pub fn status(&self, batch_len: usize) -> String {
        match self {
            Self::Succeeded => "ok".to_owned(),
            Self::PartlyFailed(failed) => format!("{} of {batch_len} failed", failed.len()),
            Self::Failed(reason) => format!("error: {reason}"),
        }
    }
}

/// Lambda's rules: no answer, `null`, `{}` or an empty or null list mean
/// every record succeeded; an answer that is not JSON, or an entry without a
/// non-empty `itemIdentifier` naming a record of the batch, fails the whole
/// batch.
pub fn read_item_failures(payload: &[u8], identifiers: &[&str]) -> BatchOutcome {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return BatchOutcome::Succeeded;
    }
    let answer: Value = match serde_json::from_slice(payload) {
        Ok(answer) => answer,
        Err(_) => return BatchOutcome::Failed("the answer is not JSON".to_owned()),
    };
    let entries = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return BatchOutcome::Succeeded,
        Some(Value::Array(entries)) => entries,
        Some(_) => return BatchOutcome::Failed("batchItemFailures is not a list".to_owned()),
    };
    let in_batch: HashSet<&str> = identifiers.iter().copied().collect();
    let mut failed: Vec<String> = Vec::new();
    for entry in entries {
        let Some(identifier) = entry.get("itemIdentifier").and_then(Value::as_str).filter(|id| !id.is_empty()) else {
            return BatchOutcome::Failed(format!("batchItemFailures entry {entry} has no itemIdentifier"));
        };
        if !in_batch.contains(identifier) {
            return BatchOutcome::Failed(format!("batchItemFailures names {identifier}, which is not in the batch"));
        }
        if !failed.iter().any(|f| f == identifier) {
            failed.push(identifier.to_owned());
        }
    }
    if failed.is_empty() { BatchOutcome::Succeeded } else { BatchOutcome::PartlyFailed(failed) }
}

/// The runtime's error answer, `{"errorType": ..., "errorMessage": ...}`,
/// shortened to its message (a Rust errorType is a type name, rarely telling).
fn function_error(payload: &[u8]) -> String {
    let answer: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let message = match answer.get("errorMessage").and_then(Value::as_str) {
        Some(message) => message.to_owned(),
        None => String::from_utf8_lossy(payload).into_owned(),
    };
    let mut quoted: String = message.trim().chars().take(QUOTED_ERROR_CHARS).collect();
    if quoted.len() < message.trim().len() {
        quoted.push('…');
    }
    format!("function error: {quoted}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    const BATCH: [&str; 3] = ["m-1", "m-2", "m-3"];

    fn answered(payload: &str, function_error: bool) -> Result<Invocation, InvokeError> {
        Ok(Invocation { payload: Bytes::from(payload.to_owned()), function_error, duration: Duration::ZERO })
    }

    #[test]
    fn no_answer_null_an_empty_object_or_an_empty_list_mean_every_record_succeeded() {
        for payload in ["", "null", "{}", r#"{"batchItemFailures": null}"#, r#"{"batchItemFailures": []}"#] {
            assert_eq!(read_item_failures(payload.as_bytes(), &BATCH), BatchOutcome::Succeeded, "{payload:?}");
        }
    }

    #[test]
    fn named_records_fail_and_the_others_succeed() {
        // GIVEN an answer naming one record twice and another once
        let payload = r#"{"batchItemFailures": [{"itemIdentifier": "m-3"}, {"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}"#;

        // WHEN it is read
        let outcome = read_item_failures(payload.as_bytes(), &BATCH);

        // THEN each named record failed once, in the order named
        assert_eq!(outcome, BatchOutcome::PartlyFailed(vec!["m-3".into(), "m-1".into()]));
        assert_eq!(outcome.status(BATCH.len()), "2 of 3 failed");
    }

    #[test]
    fn an_unreadable_answer_fails_the_whole_batch() {
        let unreadable = [
            "not json",
            r#"{"batchItemFailures": "m-1"}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifer": "m-1"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-9"}]}"#,
        ];
        for payload in unreadable {
            let outcome = read_item_failures(payload.as_bytes(), &BATCH);
            assert!(matches!(outcome, BatchOutcome::Failed(_)), "{payload}: {outcome:?}");
        }
    }

    #[test]
    fn a_function_error_fails_the_whole_batch_whatever_it_answered() {
        // GIVEN a function error whose payload also looks like a partial failure
        let result = answered(r#"{"errorType": "Boom", "errorMessage": "the disk is on fire"}"#, true);

        // WHEN it is read with ReportBatchItemFailures
        let outcome = BatchOutcome::of(&result, true, &BATCH);

        // THEN the batch failed, and the log line quotes the error
        assert_eq!(outcome.status(3), "error: function error: the disk is on fire");
    }

    #[test]
    fn without_report_batch_item_failures_the_answer_is_ignored() {
        let result = answered(r#"{"batchItemFailures": [{"itemIdentifier": "m-1"}]}"#, false);
        assert_eq!(BatchOutcome::of(&result, false, &BATCH), BatchOutcome::Succeeded);
    }

    #[test]
    fn an_invocation_that_got_no_answer_fails_the_whole_batch() {
        let result = Err(InvokeError::Timeout(Duration::from_secs(3)));
        assert_eq!(BatchOutcome::of(&result, true, &BATCH), BatchOutcome::Failed("no answer within 3s".into()));
    }
}
