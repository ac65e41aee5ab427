//! Stacked bar charts of event counts over time, drawn by uPlot (`tools/ui-vendor`, MIT).
//!
//! uPlot is not part of the wasm: `scripts/build-site` copies its script and stylesheet into the site under
//! content-hashed names, the page shell names them in two `<meta>` tags (`lib.rs`), and the first chart a
//! page shows inserts them into the document (once) and waits for them to load. All the JavaScript interop
//! is here, in the browser-only `plot` module; the pages hand over plain data (`ChartData`).
//!
//! uPlot does not stack series: each layer is drawn as the running total of the layers below it, and a band
//! between neighbours fills only its own slice. The legend shows each layer's real count at the hovered
//! bucket (the whole range's total when nothing is hovered), never the running total. Times are UTC, as
//! everywhere in the UI.

use leptos::prelude::*;

/// The `<meta>` names the page shell gives uPlot's hashed script and stylesheet under.
pub const SCRIPT_META: &str = "uplot-script";
pub const STYLE_META: &str = "uplot-style";

/// One layer of a stacked chart: what it counts, its colour, and its count in every bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub label: String,
    pub color: &'static str,
    pub counts: Vec<f64>,
}

/// What a chart draws: consecutive buckets (empty ones included, so bars keep their width and gaps show as
/// gaps) and the layers stacked on them, bottom first.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ChartData {
    /// Each bucket's start, in milliseconds since the epoch, ascending.
    pub times: Vec<f64>,
    /// A bucket's width in milliseconds.
    pub step_ms: f64,
    pub layers: Vec<Layer>,
}

impl ChartData {
    /// Empty buckets from `from_ms` (rounded down to a bucket) up to the bucket holding `to_ms`, with layers
    /// of zeros; `None` beyond `MAX_BUCKETS` (a chart of that many bars says nothing).
    pub fn zeros(
        from_ms: f64,
        to_ms: f64,
        step_ms: f64,
        layers: &[(&str, &'static str)],
    ) -> Option<ChartData> {
        if !(step_ms > 0.0 && from_ms.is_finite() && to_ms.is_finite()) {
            return None;
        }
        let first = (from_ms / step_ms).floor() * step_ms;
        let count = ((to_ms - first) / step_ms).ceil().max(1.0);
        if count > MAX_BUCKETS as f64 {
            return None;
        }
        let times: Vec<f64> = (0..count as usize)
            .map(|i| first + i as f64 * step_ms)
            .collect();
        let layers = layers
            .iter()
            .map(|(label, color)| Layer {
                label: (*label).to_owned(),
                color,
                counts: vec![0.0; times.len()],
            })
            .collect();
        Some(ChartData {
            times,
            step_ms,
            layers,
        })
    }

    /// Adds `count` to `layer` in the bucket holding `at_ms` (ignored outside the range).
    pub fn add(&mut self, layer: usize, at_ms: f64, count: f64) {
        let Some(first) = self.times.first() else {
            return;
        };
        let index = ((at_ms - first) / self.step_ms).floor();
        if index < 0.0 || !index.is_finite() {
            return;
        }
        if let Some(slot) = self
            .layers
            .get_mut(layer)
            .and_then(|l| l.counts.get_mut(index as usize))
        {
            *slot += count;
        }
    }

    /// Whether there is nothing to draw: no bucket counts anything.
    pub fn is_empty(&self) -> bool {
        self.layers
            .iter()
            .all(|l| l.counts.iter().all(|c| *c == 0.0))
    }

    /// The running totals uPlot draws, bottom layer first.
    pub fn stacked(&self) -> Vec<Vec<f64>> {
        let mut running = vec![0.0; self.times.len()];
        self.layers
            .iter()
            .map(|layer| {
                for (total, count) in running.iter_mut().zip(&layer.counts) {
                    *total += count;
                }
                running.clone()
            })
            .collect()
    }

    /// What the legend shows for uPlot's series `series` (0: the time axis, then the layers) at bucket
    /// `index`, or over the whole range when nothing is hovered.
    pub fn legend_text(&self, series: usize, index: Option<usize>) -> String {
        match (series, index) {
            (0, None) => "whole range".to_owned(),
            (0, Some(i)) => self
                .times
                .get(i)
                .map(|t| bucket_label(*t, self.step_ms))
                .unwrap_or_default(),
            (s, None) => self
                .layers
                .get(s - 1)
                .map(|l| thousands(l.counts.iter().sum::<f64>() as i64))
                .unwrap_or_default(),
            (s, Some(i)) => self
                .layers
                .get(s - 1)
                .and_then(|l| l.counts.get(i))
                .map(|c| thousands(*c as i64))
                .unwrap_or_default(),
        }
    }
}

/// More buckets than a chart is worth drawing (a year by the hour).
const MAX_BUCKETS: usize = 10_000;

/// A bucket's start for people: the day for day buckets, else down to the minute; UTC.
pub fn bucket_label(ms: f64, step_ms: f64) -> String {
    let text = rfc3339(ms);
    if step_ms >= 86_400_000.0 {
        format!("{} UTC", &text[..10])
    } else {
        format!("{} {} UTC", &text[..10], &text[11..16])
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of milliseconds since the epoch (the API's times, and what it is asked with).
pub fn rfc3339(ms: f64) -> String {
    let seconds = (ms / 1000.0).floor() as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days: the proleptic Gregorian date of a day count since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// An API time (RFC 3339, UTC) for people, to the minute: `2026-11-28 10:15 UTC`.
pub fn minute_label(at: &str) -> String {
    match (at.get(..10), at.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => at.to_owned(),
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        // A comma wherever a multiple of three digits is left.
        if i > 0 && i % 3 == digits.len() % 3 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A failure rate (0 to 1) as a percentage with one decimal.
pub fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A stacked bar chart of `data`, drawn in the browser once uPlot has loaded (nothing while rendering on the
/// server, and nothing while `data` is empty: the page says why instead). `compact`: a small trend without
/// a counts axis (the legend gives them). The legend carries `data-testid="<test_id>-legend"`.
#[component]
pub fn StackedBars(
    data: Signal<ChartData>,
    #[prop(into)] label: String,
    test_id: &'static str,
    #[prop(optional)] compact: bool,
) -> impl IntoView {
    let container = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    plot::draw(container, data, compact, test_id);
    #[cfg(not(feature = "hydrate"))]
    let _ = (data, compact);
    view! {
        <div class="chart" class:compact=compact data-testid=test_id aria-label=label node_ref=container></div>
    }
}

#[cfg(feature = "hydrate")]
mod plot {
    use std::cell::RefCell;
    use std::rc::Rc;

    use leptos::html::Div;
    use leptos::prelude::*;
    use serde_json::{json, Value};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::js_sys::{Array, Date, Function, Promise, Reflect, JSON};

    use super::{ChartData, SCRIPT_META, STYLE_META};

    /// Every callback uPlot is given: it passes up to four arguments, and extra ones are ignored.
    type Callback = Closure<dyn Fn(JsValue, JsValue, JsValue, JsValue) -> JsValue>;

    thread_local! {
        /// uPlot's script and stylesheet loading (or loaded): inserted once per page, whatever the charts.
        static ASSETS: RefCell<Option<Promise>> = const { RefCell::new(None) };
    }

    /// Draws `data` into `container` once uPlot is there, keeps the chart in step with `data` and the
    /// window's width, and destroys it with the component.
    pub fn draw(
        container: NodeRef<Div>,
        data: Signal<ChartData>,
        compact: bool,
        test_id: &'static str,
    ) {
        let ready = RwSignal::new(false);
        leptos::task::spawn_local(async move {
            match load().await {
                Ok(()) => {
                    ready.try_set(true);
                }
                Err(error) => leptos::logging::warn!("the chart library did not load: {error:?}"),
            }
        });
        let shown = StoredValue::new_local(None::<Plot>);
        Effect::new(move |_| {
            let data = data.get();
            let (true, Some(element)) = (ready.get(), container.get()) else {
                return;
            };
            shown.update_value(|plot| {
                if data.is_empty() {
                    *plot = None;
                    return;
                }
                if let Some(existing) = plot.as_ref().filter(|p| p.has_layers_of(&data)) {
                    existing.set_data(data);
                    return;
                }
                // Dropped first: two charts never share the container.
                *plot = None;
                match Plot::new(&element, data, compact, test_id) {
                    Ok(new) => *plot = Some(new),
                    Err(error) => leptos::logging::warn!("the chart could not be drawn: {error:?}"),
                }
            });
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| {
            shown.with_value(|plot| {
                if let (Some(plot), Some(element)) = (plot, container.get_untracked()) {
                    plot.fit(&element);
                }
            })
        });
        on_cleanup(move || {
            resize.remove();
            shown.try_update_value(|plot| *plot = None);
        });
    }

    /// Inserts uPlot's script and stylesheet (once) and waits for both; a failure lets the next chart try
    /// again.
    async fn load() -> Result<(), JsValue> {
        let loading = ASSETS.with(|assets| assets.borrow_mut().get_or_insert_with(insert).clone());
        let loaded = wasm_bindgen_futures::JsFuture::from(loading).await;
        if loaded.is_err() {
            ASSETS.with(|assets| assets.borrow_mut().take());
        }
        loaded.map(|_| ())
    }

    fn insert() -> Promise {
        let document = document();
        let asset = |meta: &str, fallback: &str| {
            document
                .query_selector(&format!("meta[name=\"{meta}\"]"))
                .ok()
                .flatten()
                .and_then(|m| m.get_attribute("content"))
                .unwrap_or_else(|| fallback.to_owned())
        };
        // Settled by the element's own load or error event.
        let element = |tag: &str, attributes: &[(&str, String)]| {
            Promise::new(&mut |resolve, reject| {
                let added = (|| {
                    let element = document.create_element(tag)?;
                    for (name, value) in attributes {
                        element.set_attribute(name, value)?;
                    }
                    Reflect::set(&element, &"onload".into(), &resolve)?;
                    Reflect::set(&element, &"onerror".into(), &reject)?;
                    let head = document
                        .query_selector("head")?
                        .ok_or_else(|| JsValue::from_str("no <head>"))?;
                    head.append_child(&element)?;
                    Ok::<_, JsValue>(())
                })();
                if let Err(error) = added {
                    let _ = reject.call1(&JsValue::NULL, &error);
                }
            })
        };
        let script = element("script", &[("src", asset(SCRIPT_META, "/pkg/uplot.js"))]);
        let style = element(
            "link",
            &[
                ("rel", "stylesheet".to_owned()),
                ("href", asset(STYLE_META, "/pkg/uplot.css")),
            ],
        );
        Promise::all(&Array::of2(&script, &style))
    }

    /// A uPlot chart and what its callbacks read; dropping it removes the chart.
    struct Plot {
        uplot: JsValue,
        shown: Rc<RefCell<ChartData>>,
        height: f64,
        _callbacks: Vec<Callback>,
    }

    impl Drop for Plot {
        fn drop(&mut self) {
            let _ = call(&self.uplot, "destroy", &Array::new());
        }
    }

    fn call(target: &JsValue, method: &str, args: &Array) -> Result<JsValue, JsValue> {
        Reflect::get(target, &method.into())?
            .dyn_into::<Function>()?
            .apply(target, args)
    }

    fn get(target: &JsValue, path: &[&str]) -> Result<JsValue, JsValue> {
        path.iter().try_fold(target.clone(), |value, key| {
            Reflect::get(&value, &(*key).into())
        })
    }

    fn callback(f: impl Fn(JsValue, JsValue, JsValue, JsValue) -> JsValue + 'static) -> Callback {
        Closure::wrap(Box::new(f))
    }

    fn width_of(element: &web_sys::Element) -> f64 {
        f64::from(element.client_width().max(240))
    }

    /// uPlot's data: the times in seconds, then each layer's running total.
    fn columns(data: &ChartData) -> Result<JsValue, JsValue> {
        let times: Vec<f64> = data.times.iter().map(|t| t / 1000.0).collect();
        let mut columns = vec![times];
        columns.extend(data.stacked());
        JSON::parse(&serde_json::to_string(&columns).unwrap_or_default())
    }

    impl Plot {
        fn new(
            element: &web_sys::Element,
            data: ChartData,
            compact: bool,
            test_id: &str,
        ) -> Result<Plot, JsValue> {
            let uplot = get(window().as_ref(), &["uPlot"])?;
            let height = if compact { 110.0 } else { 260.0 };
            let axis = |show: bool| {
                json!({
                    "show": show,
                    "stroke": "#5b6576",
                    "font": "12px -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, sans-serif",
                    "grid": { "stroke": "#eef0f4", "width": 1 },
                    "ticks": { "stroke": "#e3e6eb", "width": 1 },
                })
            };
            // A compact trend keeps its time axis (when the failures happened is the point), not its counts.
            let mut time_axis = axis(true);
            if compact {
                time_axis["font"] =
                    json!("11px -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, sans-serif");
                time_axis["size"] = json!(40);
            }
            // uPlot's default tick labels are American, 12-hour; these read like the rest of the UI (24-hour,
            // year-month-day), with the date under the first tick of each day. Columns: the tick spacing in
            // seconds, its label, then what is added below it when the year, month, day, hour, minute or second
            // changes, and 1 to add only that.
            time_axis["values"] = json!([
                [31_536_000, "{YYYY}", null, null, null, null, null, null, 1],
                [2_419_200, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
                [
                    86_400,
                    "{MM}-{DD}",
                    "\n{YYYY}",
                    null,
                    null,
                    null,
                    null,
                    null,
                    1
                ],
                [
                    3_600,
                    "{HH}:{mm}",
                    "\n{YYYY}-{MM}-{DD}",
                    null,
                    "\n{MM}-{DD}",
                    null,
                    null,
                    null,
                    1
                ],
                [
                    60,
                    "{HH}:{mm}",
                    "\n{YYYY}-{MM}-{DD}",
                    null,
                    "\n{MM}-{DD}",
                    null,
                    null,
                    null,
                    1
                ],
                [
                    1,
                    ":{ss}",
                    "\n{YYYY}-{MM}-{DD} {HH}:{mm}",
                    null,
                    "\n{MM}-{DD} {HH}:{mm}",
                    null,
                    "\n{HH}:{mm}",
                    null,
                    1
                ]
            ]);
            let mut counts_axis = axis(!compact);
            // Whole events: no tick between 0 and 1.
            counts_axis["incrs"] = json!([
                1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
                100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 1e8, 1e9,
                1e10
            ]);
            counts_axis["size"] = json!(56);
            let mut series = vec![json!({ "label": "Time (UTC)" })];
            series.extend(data.layers.iter().map(|layer| {
                json!({
                    "label": layer.label,
                    "stroke": layer.color,
                    "fill": layer.color,
                    "width": 0,
                    "points": { "show": false },
                })
            }));
            // Each layer fills only down to the one below it.
            let bands: Vec<Value> = (1..data.layers.len())
                .map(|i| json!({ "series": [i + 1, i] }))
                .collect();
            let options = json!({
                "width": width_of(element),
                "height": height,
                "padding": [8, 12, 0, 0],
                "series": series,
                "bands": bands,
                "scales": { "x": { "time": true } },
                "axes": [time_axis, counts_axis],
                "cursor": { "drag": { "x": false, "y": false }, "points": { "show": false } },
                "legend": { "show": true, "live": true },
            });
            let options = JSON::parse(&options.to_string())?;

            let shown = Rc::new(RefCell::new(data));
            let legend_value = callback({
                let shown = shown.clone();
                move |_, _, series, index| {
                    let series = series.as_f64().unwrap_or(0.0) as usize;
                    let index = index.as_f64().map(|i| i as usize);
                    shown.borrow().legend_text(series, index).into()
                }
            });
            // Half a bucket on either side, so that the first and last bars are whole.
            let time_range = callback({
                let shown = shown.clone();
                move |_, _, _, _| {
                    let shown = shown.borrow();
                    let half = shown.step_ms / 2000.0;
                    let first = shown.times.first().copied().unwrap_or(0.0) / 1000.0;
                    let last = shown.times.last().copied().unwrap_or(0.0) / 1000.0;
                    Array::of2(&JsValue::from(first - half), &JsValue::from(last + half)).into()
                }
            });
            let tz_date = callback({
                let tz_date = get(&uplot, &["tzDate"])?.dyn_into::<Function>()?;
                move |seconds, _, _, _| {
                    let date = Date::new(&(seconds.as_f64().unwrap_or(0.0) * 1000.0).into());
                    tz_date
                        .call2(&JsValue::NULL, &date, &"Etc/UTC".into())
                        .unwrap_or_else(|_| date.into())
                }
            });

            let bars = get(&uplot, &["paths", "bars"])?.dyn_into::<Function>()?;
            let bar_options = JSON::parse(r#"{"size":[0.8,48],"gap":1}"#)?;
            let series = get(&options, &["series"])?;
            for i in 0..=shown.borrow().layers.len() {
                let one = Reflect::get(&series, &(i as u32).into())?;
                Reflect::set(&one, &"value".into(), legend_value.as_ref())?;
                if i > 0 {
                    Reflect::set(
                        &one,
                        &"paths".into(),
                        &bars.call1(&JsValue::NULL, &bar_options)?,
                    )?;
                }
            }
            Reflect::set(
                &get(&options, &["scales", "x"])?,
                &"range".into(),
                time_range.as_ref(),
            )?;
            Reflect::set(&options, &"tzDate".into(), tz_date.as_ref())?;

            let data = columns(&shown.borrow())?;
            let args = Array::of3(&options, &data, element);
            let uplot = Reflect::construct(&uplot.dyn_into::<Function>()?, &args)?;
            if let Ok(Some(legend)) = get(&uplot, &["root"])?
                .dyn_into::<web_sys::Element>()?
                .query_selector(".u-legend")
            {
                legend.set_attribute("data-testid", &format!("{test_id}-legend"))?;
            }
            Ok(Plot {
                uplot,
                shown,
                height,
                _callbacks: vec![legend_value, time_range, tz_date],
            })
        }

        fn has_layers_of(&self, data: &ChartData) -> bool {
            let shown = self.shown.borrow();
            shown.layers.len() == data.layers.len()
                && shown
                    .layers
                    .iter()
                    .zip(&data.layers)
                    .all(|(a, b)| a.label == b.label && a.color == b.color)
        }

        fn set_data(&self, data: ChartData) {
            let columns = columns(&data);
            *self.shown.borrow_mut() = data;
            if let Ok(columns) = columns {
                let _ = call(&self.uplot, "setData", &Array::of1(&columns));
            }
        }

        fn fit(&self, element: &web_sys::Element) {
            if let Ok(size) = JSON::parse(
                &json!({ "width": width_of(element), "height": self.height }).to_string(),
            ) {
                let _ = call(&self.uplot, "setSize", &Array::of1(&size));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_the_api_reads_them() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_860_930_123.0), "2026-11-28T10:15:30Z");
        assert_eq!(rfc3339(951_782_400_000.0), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1000.0), "1969-12-31T23:59:59Z");
        assert_eq!(
            bucket_label(1_795_860_930_123.0, 60_000.0),
            "2026-11-28 10:15 UTC"
        );
        assert_eq!(
            bucket_label(1_795_860_930_123.0, 86_400_000.0),
            "2026-11-28 UTC"
        );
        assert_eq!(minute_label("2026-11-28T10:15:30Z"), "2026-11-28 10:15 UTC");
    }

    #[test]
    fn numbers_read_like_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
        assert_eq!(percent(0.0434), "4.3%");
    }

    #[test]
    fn buckets_cover_the_range_and_layers_stack() {
        let minute = 60_000.0;
        // 10:00:30 to 10:03:10: the buckets of 10:00, 10:01, 10:02 and 10:03.
        let start = 1_795_860_000_000.0;
        let mut data = ChartData::zeros(
            start + 30_000.0,
            start + 3.0 * minute + 10_000.0,
            minute,
            &[("Succeeded", "green"), ("Failed", "red")],
        )
        .unwrap();
        assert_eq!(data.times.len(), 4);
        assert_eq!(data.times[0], start);
        assert!(data.is_empty());
        data.add(0, start + minute, 5.0);
        data.add(1, start + minute + 59_000.0, 2.0);
        data.add(1, start + 3.0 * minute, 1.0);
        data.add(1, start - minute, 100.0);
        data.add(1, start + 10.0 * minute, 100.0);
        assert!(!data.is_empty());
        assert_eq!(
            data.stacked(),
            vec![vec![0.0, 5.0, 0.0, 0.0], vec![0.0, 7.0, 0.0, 1.0]]
        );
        assert_eq!(data.legend_text(1, Some(1)), "5");
        assert_eq!(data.legend_text(2, Some(1)), "2", "the layer's own count");
        assert_eq!(data.legend_text(2, None), "3", "the range's total");
        assert_eq!(data.legend_text(0, Some(3)), "2026-11-28 10:03 UTC");
        assert!(ChartData::zeros(0.0, 1e12, 60_000.0, &[]).is_none());
    }
}
