//! Logging and tracing: one call at the start of `main`.
//!
//! `RUST_LOG` filters the log (default `info`); `LOG_FORMAT=json` switches to JSON lines.
//! Logs go to stderr so stdout stays free for the ready line.
//!
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the spans of Switchboard's own code are also
//! exported as OpenTelemetry traces over OTLP/HTTP (protobuf), batched on a background
//! thread with a bounded queue. The W3C `traceparent` travels in NATS message headers and
//! gRPC metadata ([`inject_nats`], [`inject_grpc`], [`set_parent_from_nats`], ...), so one
//! `send_message` is one trace from the sending gateway through chat and PostgreSQL to the
//! delivery on the receiving replica.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The W3C trace-context header.
pub const TRACEPARENT: &str = "traceparent";

/// Set once spans are exported: without an exporter no trace context is looked up per
/// command or delivery.
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Flushes the exported spans when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans at exit failed: {e}");
        }
    }
}

pub fn init(service: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn,h2=warn,tower=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = if json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.boxed()
    };
    let provider = match crate::config::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        None => None,
        Some(_) => match tracer_provider(service) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("telemetry: traces are off, the OTLP exporter failed: {e}");
                None
            }
        },
    };
    let otel = provider.as_ref().map(|p| {
        EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // Only Switchboard's own spans: the libraries' would drown them.
        let own = Targets::new().with_target("switchboard", tracing::Level::INFO);
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("switchboard"))
            .with_filter(own)
    });
    // A second init (tests that build several applications in one process) is harmless.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    tracing::debug!(
        service,
        traces = provider.is_some(),
        "telemetry initialised"
    );
    Telemetry { provider }
}

fn tracer_provider(
    service: &str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig as _;
    // Endpoint, headers and timeout also follow the standard OTEL_EXPORTER_OTLP_* variables.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_timeout(std::time::Duration::from_secs(5))
        .build()?;
    let name =
        crate::config::var("OTEL_SERVICE_NAME").unwrap_or_else(|| format!("switchboard-{service}"));
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name)
        .with_attribute(opentelemetry::KeyValue::new(
            "process.pid",
            i64::from(std::process::id()),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

struct Carrier(HashMap<String, String>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The current span's `traceparent`, when it is part of an exported trace.
pub fn traceparent() -> Option<String> {
    if !EXPORTING.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = Carrier(HashMap::new());
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.0.remove(TRACEPARENT)
}

/// Makes the trace behind `traceparent` the parent of `span`.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = Carrier(HashMap::from([(
        TRACEPARENT.to_owned(),
        traceparent.to_owned(),
    )]));
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Adds the current trace to outgoing NATS headers.
pub fn inject_nats(headers: &mut async_nats::HeaderMap) {
    if let Some(tp) = traceparent() {
        headers.insert(TRACEPARENT, tp.as_str());
    }
}

/// Continues the trace of an incoming NATS message in `span`.
pub fn set_parent_from_nats(span: &tracing::Span, headers: Option<&async_nats::HeaderMap>) {
    if let Some(tp) = headers.and_then(|h| h.get(TRACEPARENT)) {
        set_parent(span, tp.as_str());
    }
}

/// Adds the current trace to outgoing gRPC metadata.
pub fn inject_grpc(metadata: &mut tonic::metadata::MetadataMap) {
    if let Some(tp) = traceparent()
        && let Ok(value) = tp.parse()
    {
        metadata.insert(TRACEPARENT, value);
    }
}

/// Continues the trace of an incoming gRPC call in `span`.
pub fn set_parent_from_grpc(span: &tracing::Span, metadata: &tonic::metadata::MetadataMap) {
    if let Some(tp) = metadata.get(TRACEPARENT).and_then(|v| v.to_str().ok()) {
        set_parent(span, tp);
    }
}
