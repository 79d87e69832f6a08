//! Logging: one `init` per process.
//!
//! Every line carries the function name and, inside a request, its request id
//! (taken from any enclosing span with a `request_id` or `requestId` field:
//! ours, or the Lambda runtime's). Lines are JSON when Lambda's log format is
//! JSON (`AWS_LAMBDA_LOG_FORMAT`), readable text otherwise. The level comes from
//! `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then `info`.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the global subscriber. Safe to call twice (the second is a no-op),
/// so tests that want logs may call it too.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let format = LineFormat { function: function_name(), json };
    let _ = tracing_subscriber::registry()
        .with(RequestIdCapture)
        .with(tracing_subscriber::fmt::layer().event_format(format).with_filter(level_filter()))
        .try_init();
}

fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().unwrap_or_else(|| {
        std::env::args()
            .next()
            .and_then(|path| path.rsplit('/').next().map(str::to_owned))
            .unwrap_or_else(|| "tessera".into())
    })
}

fn level_filter() -> EnvFilter {
    let lambda_level =
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|level| match level.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_owned(),
            other => other.to_owned(),
        });
    let directive = lambda_level.or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| "info".into());
    EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The request id a span was opened with, kept in its extensions.
struct RequestId(String);

/// Remembers the request id of every span that names one.
struct RequestIdCapture;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for RequestIdCapture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut finder = RequestIdFinder(None);
        attrs.record(&mut finder);
        if let (Some(request_id), Some(span)) = (finder.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }
}

struct RequestIdFinder(Option<String>);

impl Visit for RequestIdFinder {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "request_id" | "requestId") {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "request_id" | "requestId") {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// An event's fields as JSON values.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

struct LineFormat {
    function: String,
    json: bool,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let request_id = ctx.event_scope().and_then(|scope| {
            scope.into_iter().find_map(|span| span.extensions().get::<RequestId>().map(|id| id.0.clone()))
        });
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or(Value::Null);
        let meta = event.metadata();
        let timestamp = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();

        if self.json {
            let mut line = Map::new();
            line.insert("timestamp".into(), timestamp.into());
            line.insert("level".into(), meta.level().as_str().into());
            line.insert("function".into(), self.function.as_str().into());
            if let Some(request_id) = request_id {
                line.insert("requestId".into(), request_id.into());
            }
            line.insert("target".into(), meta.target().into());
            line.insert("message".into(), message);
            for (name, value) in fields.0 {
                line.entry(name).or_insert(value);
            }
            writeln!(writer, "{}", Value::Object(line))
        } else {
            let message = match message {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let mut line = format!("{timestamp} {:>5} {}", meta.level(), self.function);
            if let Some(request_id) = request_id {
                let _ = write!(line, " [{request_id}]");
            }
            let _ = write!(line, " {}: {message}", meta.target());
            for (name, value) in fields.0 {
                let _ = write!(line, " {name}={value}");
            }
            writeln!(writer, "{line}")
        }
    }
}
