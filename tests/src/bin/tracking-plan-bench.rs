//! Tracking-plan validation speed, on one thread, with no server: a plan of 200 events (196 track events of
//! 5–15 typed properties with required ones, enums, patterns, lengths and bounds; identify, page, screen and
//! group) and 10,000 messages, about a fifth of them violating it (missing, mistyped, out-of-range and
//! unplanned properties, unplanned events).
//!
//! - validations/s with the plan compiled once (`CompiledPlan::validate`, what the API and the impact preview
//!   run), against the baseline of compiling the message's event schema for every validation, in the same run;
//! - `impact()` over the 10,000 messages (median of 5 runs);
//! - how long compiling the whole plan takes.
//!
//! Usage: tracking-plan-bench [seconds per figure, default 2] (build with --release: scripts/bench/tracking-plans)

use std::hint::black_box;
use std::time::{Duration, Instant};

use app::api::tracking_plans::PlanEvent;
use serde_json::{json, Map, Value};
use server::tracking_plans::impact::impact;
use server::tracking_plans::validation::CompiledPlan;

const TRACK_EVENTS: usize = 196;
const MESSAGES: usize = 10_000;

/// xorshift64*: the same plan and messages every run, without depending on a generator's API.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The kinds of property a track event has, with a valid value and an invalid one of each.
#[derive(Clone, Copy)]
enum Kind {
    Currency,
    Sku,
    Price,
    Quantity,
    Flag,
    Label,
    Tags,
}

const KINDS: [Kind; 7] = [
    Kind::Currency,
    Kind::Sku,
    Kind::Price,
    Kind::Quantity,
    Kind::Flag,
    Kind::Label,
    Kind::Tags,
];

impl Kind {
    fn schema(self) -> Value {
        match self {
            Kind::Currency => json!({"type": "string", "enum": ["EUR", "USD", "GBP", "JPY"]}),
            Kind::Sku => json!({"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}),
            Kind::Price => json!({"type": "number", "minimum": 0, "maximum": 100000}),
            Kind::Quantity => json!({"type": "integer", "minimum": 1, "maximum": 999}),
            Kind::Flag => json!({"type": "boolean"}),
            Kind::Label => json!({"type": ["string", "null"], "minLength": 1, "maxLength": 64}),
            Kind::Tags => {
                json!({"type": "array", "items": {"type": "string"}, "maxItems": 10, "uniqueItems": true})
            }
        }
    }
    fn valid(self, rng: &mut Rng) -> Value {
        match self {
            Kind::Currency => json!(["EUR", "USD", "GBP", "JPY"][rng.below(4)]),
            Kind::Sku => json!(format!("ABC-{:04}", rng.below(10_000))),
            Kind::Price => json!(rng.below(100_000) as f64 / 100.0),
            Kind::Quantity => json!(1 + rng.below(998)),
            Kind::Flag => json!(rng.below(2) == 0),
            Kind::Label => json!(format!("label {}", rng.below(1000))),
            Kind::Tags => json!(["new", "sale"]),
        }
    }
    fn invalid(self) -> Value {
        match self {
            Kind::Currency => json!("CHF"),
            Kind::Sku => json!("abc-12"),
            Kind::Price => json!(-5),
            Kind::Quantity => json!(2.5),
            Kind::Flag => json!("yes"),
            Kind::Label => json!(""),
            Kind::Tags => json!(["a", "a"]),
        }
    }
}

struct TrackEvent {
    name: String,
    properties: Vec<(String, Kind)>,
    required: usize,
}

fn plan(rng: &mut Rng) -> (Vec<TrackEvent>, Vec<PlanEvent>) {
    let mut tracks = Vec::new();
    let mut events = Vec::new();
    for i in 0..TRACK_EVENTS {
        let count = 5 + rng.below(11);
        let properties: Vec<(String, Kind)> = (0..count)
            .map(|p| (format!("prop_{p}"), KINDS[rng.below(KINDS.len())]))
            .collect();
        let required = 1 + rng.below(count / 2);
        let schema: Map<String, Value> = properties
            .iter()
            .map(|(name, kind)| (name.clone(), kind.schema()))
            .collect();
        let required_names: Vec<&String> =
            properties.iter().take(required).map(|(n, _)| n).collect();
        let name = format!("Event {i:03}");
        events.push(PlanEvent {
            name: name.clone(),
            event_type: "track".into(),
            description: None,
            rules: json!({
                "$schema": "https://json-schema.org/draft/2019-09/schema",
                "type": "object",
                "properties": {"properties": {
                    "type": "object",
                    "properties": schema,
                    "required": required_names,
                    "additionalProperties": false,
                }},
                "required": ["properties"],
            }),
        });
        tracks.push(TrackEvent {
            name,
            properties,
            required,
        });
    }
    let traits = json!({
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}, "plan": {"enum": ["free", "pro"]}},
        "required": ["email"],
    });
    for (event_type, key, rules) in [
        ("identify", "traits", traits.clone()),
        ("group", "traits", traits),
        (
            "page",
            "properties",
            json!({"type": "object", "properties": {"path": {"type": "string", "pattern": "^/"}}, "required": ["path"]}),
        ),
        (
            "screen",
            "properties",
            json!({"type": "object", "properties": {"name": {"type": "string"}}}),
        ),
    ] {
        events.push(PlanEvent {
            name: String::new(),
            event_type: event_type.into(),
            description: None,
            rules: json!({"type": "object", "properties": {key: rules}}),
        });
    }
    (tracks, events)
}

fn messages(rng: &mut Rng, tracks: &[TrackEvent]) -> (Vec<Value>, usize) {
    let mut out = Vec::with_capacity(MESSAGES);
    let mut violating = 0;
    for _ in 0..MESSAGES {
        let bad = rng.below(5) == 0;
        violating += usize::from(bad);
        let roll = rng.below(10);
        let message = if roll < 8 {
            let event = &tracks[rng.below(tracks.len())];
            let mut properties = Map::new();
            for (i, (name, kind)) in event.properties.iter().enumerate() {
                if i < event.required || rng.below(2) == 0 {
                    properties.insert(name.clone(), kind.valid(rng));
                }
            }
            let mut name = event.name.clone();
            if bad {
                let (prop, kind) = &event.properties[rng.below(event.required)];
                match rng.below(4) {
                    0 => {
                        properties.remove(prop);
                    }
                    1 => {
                        properties.insert(prop.clone(), kind.invalid());
                    }
                    2 => {
                        properties.insert("unplanned_prop".into(), json!(1));
                    }
                    _ => name = format!("Unplanned {}", rng.below(50)),
                }
            }
            json!({"type": "track", "event": name, "userId": "u1", "context": {"library": {"name": "bench"}}, "properties": properties})
        } else if roll == 8 {
            let email = if bad {
                json!(42)
            } else {
                json!("a@example.com")
            };
            json!({"type": "identify", "userId": "u1", "traits": {"email": email, "plan": "pro"}})
        } else {
            let path = if bad { "no-slash" } else { "/pricing" };
            json!({"type": "page", "name": "Pricing", "properties": {"path": path, "title": "Pricing"}})
        };
        out.push(message);
    }
    (out, violating)
}

/// This thread's time on a CPU, in seconds (`/proc/thread-self/schedstat`, in ns): the machine may be shared,
/// and a figure per CPU-second does not depend on what else runs. `None` where there is no such file.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// What a run took: wall-clock seconds and CPU seconds (the wall clock again when unknown).
struct Took {
    wall: f64,
    cpu: f64,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Took) {
    let cpu = cpu_seconds();
    let started = Instant::now();
    let out = f();
    let wall = started.elapsed().as_secs_f64();
    let cpu = match (cpu, cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => wall,
    };
    (out, Took { wall, cpu })
}

/// Runs `one` over the messages, round and round, for about `budget`; returns validations per CPU-second and
/// per wall-clock second.
fn rate(messages: &[Value], budget: Duration, mut one: impl FnMut(&Value) -> usize) -> (f64, f64) {
    let started = Instant::now();
    let (done, took) = timed(|| {
        let mut done = 0usize;
        let mut found = 0usize;
        while started.elapsed() < budget {
            for message in messages.iter().skip(done % messages.len()).take(500) {
                found += one(message);
                done += 1;
            }
        }
        black_box(found);
        done
    });
    (done as f64 / took.cpu, done as f64 / took.wall)
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(2.0, |s| s.parse().expect("seconds"));
    let budget = Duration::from_secs_f64(seconds);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (tracks, events) = plan(&mut rng);
    let (messages, bad) = messages(&mut rng, &tracks);

    let (plan, took) = timed(|| CompiledPlan::compile(&events).expect("the bench plan compiles"));
    let compile_ms = took.cpu * 1000.0;
    println!(
        "plan: {} events ({} track); messages: {} ({} made violating)",
        events.len(),
        TRACK_EVENTS,
        messages.len(),
        bad
    );
    println!("(rates per second of this thread's CPU time, wall-clock rates in brackets: the machine may be shared)");
    println!("compile the whole plan: {compile_ms:.1} ms");

    let invalid = messages
        .iter()
        .filter(|m| !plan.validate(m).is_empty())
        .count();
    println!("messages with violations: {invalid}");

    let (compiled, compiled_wall) = rate(&messages, budget, |m| black_box(plan.validate(m)).len());
    println!(
        "validate, compiled plan: {compiled:.0} validations/s [{compiled_wall:.0}] (one thread)"
    );
    let valid: Vec<Value> = messages
        .iter()
        .filter(|m| plan.validate(m).is_empty())
        .cloned()
        .collect();
    let invalid: Vec<Value> = messages
        .iter()
        .filter(|m| !plan.validate(m).is_empty())
        .cloned()
        .collect();
    let (valid_rate, valid_wall) = rate(&valid, budget, |m| black_box(plan.validate(m)).len());
    let (invalid_rate, invalid_wall) =
        rate(&invalid, budget, |m| black_box(plan.validate(m)).len());
    println!("  of which valid messages only: {valid_rate:.0}/s [{valid_wall:.0}]; violating only: {invalid_rate:.0}/s [{invalid_wall:.0}]");

    // What no cache costs: the message's event schema compiled (meta-schema check included) every time.
    let by_key = |m: &Value| -> Option<&PlanEvent> {
        let t = m["type"].as_str()?;
        let name = if t == "track" {
            m["event"].as_str()?
        } else {
            ""
        };
        events.iter().find(|e| e.event_type == t && e.name == name)
    };
    let (baseline, baseline_wall) = rate(&messages, budget, |m| match by_key(m) {
        Some(event) => {
            let one = CompiledPlan::compile(std::slice::from_ref(event)).expect("compiles");
            black_box(one.validate(m)).len()
        }
        None => 1,
    });
    println!("baseline, schema compiled per validation: {baseline:.0} validations/s [{baseline_wall:.0}] (one thread)");
    println!("speed-up: {:.0}x", compiled / baseline);

    let mut times: Vec<(f64, f64)> = (0..5)
        .map(|_| {
            let (summary, took) = timed(|| black_box(impact(&plan, &messages)));
            assert_eq!(summary.checked as usize, messages.len());
            (took.cpu * 1000.0, took.wall * 1000.0)
        })
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let summary = impact(&plan, &messages);
    println!(
        "impact() over {} messages: {:.1} ms [{:.1}] (median of 5; {} checked, {} violating, {} events)",
        messages.len(),
        times[2].0,
        times[2].1,
        summary.checked,
        summary.violating,
        summary.events.len()
    );
}
