use leptos::prelude::*;

use crate::api::ApiError;

/// The "Saved" bubble after an action.
#[derive(Clone, Copy)]
pub struct Toaster {
    message: RwSignal<Option<String>>,
    serial: RwSignal<u64>,
}

impl Toaster {
    pub fn show(&self, message: impl Into<String>) {
        self.message.set(Some(message.into()));
        self.serial.update(|s| *s += 1);
        #[cfg(feature = "hydrate")]
        {
            let (message, serial) = (self.message, self.serial);
            let shown = serial.get_untracked();
            set_timeout(
                move || {
                    if serial.get_untracked() == shown {
                        message.set(None);
                    }
                },
                std::time::Duration::from_millis(3000),
            );
        }
    }
}

pub fn provide_toast() {
    provide_context(Toaster {
        message: RwSignal::new(None),
        serial: RwSignal::new(0),
    });
}

pub fn use_toast() -> Toaster {
    expect_context::<Toaster>()
}

#[component]
pub fn Toast() -> impl IntoView {
    let toaster = use_toast();
    move || {
        toaster
            .message
            .get()
            .map(|m| view! { <div class="toast" role="status">{m}</div> })
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <div class="loading">"Loading…"</div> }
}

/// An error that does not belong to a form field. By default that is an error naming no field; with
/// `beside`, every error except those naming a field under one of these prefixes (shown beside the field).
/// With `reload`, a change refused because someone else changed the resource first says so and offers to
/// load their version; until then, what the person typed stays in the form.
#[component]
pub fn ApiErrorAlert(
    error: Signal<Option<ApiError>>,
    #[prop(optional)] beside: Option<&'static [&'static str]>,
    #[prop(optional)] reload: Option<Callback<()>>,
) -> impl IntoView {
    move || {
        let e = error.get().filter(|e| match (&e.field, beside) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(field), Some(prefixes)) => !prefixes
                .iter()
                .any(|p| field == p || field.starts_with(&format!("{p}."))),
        })?;
        Some(match reload {
            Some(reload) if e.is_stale() => view! {
                <div class="alert warning stale" role="alert">
                    <span>"Changed by someone else since you opened this page. Your changes are still in the form; reload to see theirs (yours will be discarded), then make your change again."</span>
                    <button type="button" class="btn small" on:click=move |_| reload.run(())>"Reload"</button>
                </div>
            }
            .into_any(),
            _ => view! { <div class="alert error" role="alert">{e.message}</div> }.into_any(),
        })
    }
}

/// The result of an action as a toast (success) or an error signal (failure); `on_ok` runs after success.
pub fn report<I, T>(
    action: Action<I, Result<T, ApiError>>,
    error: RwSignal<Option<ApiError>>,
    success: &'static str,
    on_ok: impl Fn(T) + 'static,
) where
    I: Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    let toast = use_toast();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(v)) => {
            error.set(None);
            if !success.is_empty() {
                toast.show(success);
            }
            on_ok(v);
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
}

/// This Wheelhouse's address as the browser sees it, for copyable settings (a placeholder while rendering
/// on the server, so that the hydrated page starts out identical).
pub fn use_browser_origin() -> RwSignal<String> {
    let origin = RwSignal::new(String::from("https://<your Wheelhouse>"));
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(o) = web_sys::window().and_then(|w| w.location().origin().ok()) {
            origin.set(o);
        }
    });
    origin
}
