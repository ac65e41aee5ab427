use leptos::prelude::*;

use crate::api::ApiError;

/// The message of `error` when it names `field`.
#[component]
pub fn FieldError(error: Signal<Option<ApiError>>, #[prop(into)] field: String) -> impl IntoView {
    move || {
        error
            .get()
            .and_then(|e| e.field_error(&field))
            .map(|m| view! { <div class="error">{m}</div> })
    }
}

/// A labelled text input bound to a signal, with the API error for `field` beside it.
#[component]
pub fn TextField(
    #[prop(into)] label: String,
    #[prop(into)] field: String,
    value: RwSignal<String>,
    error: Signal<Option<ApiError>>,
    #[prop(optional, into)] kind: Option<String>,
    #[prop(optional, into)] help: Option<String>,
    #[prop(optional, into)] placeholder: Option<String>,
    #[prop(optional, into)] autocomplete: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] autofocus: bool,
) -> impl IntoView {
    let id = format!("field-{field}");
    let invalid = {
        let field = field.clone();
        move || error.get().and_then(|e| e.field_error(&field)).is_some()
    };
    view! {
        <div class="field" class:invalid=invalid>
            <label for=id.clone()>{label}{required.then(|| view! { <span class="required">"*"</span> })}</label>
            <input
                id=id
                name=field.clone()
                type=kind.unwrap_or_else(|| "text".into())
                placeholder=placeholder
                autocomplete=autocomplete
                required=required
                autofocus=autofocus
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            {help.map(|h| view! { <div class="help">{h}</div> })}
            <FieldError error=error field=field/>
        </div>
    }
}

/// A read-only value with a copy button (write keys, tokens).
#[component]
pub fn CopyField(
    #[prop(into)] value: Signal<String>,
    #[prop(optional, into)] test_id: Option<String>,
) -> impl IntoView {
    view! {
        <div class="copy">
            <code data-testid=test_id>{move || value.get()}</code>
            <CopyButton text=value/>
        </div>
    }
}

/// A button that copies `text` to the clipboard.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                let _ = window
                    .navigator()
                    .clipboard()
                    .write_text(&text.get_untracked());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = text;
        copied.set(true);
    };
    view! {
        <button type="button" class="btn small" on:click=copy>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// A credential shown once, right after it was created.
#[component]
pub fn ShownOnce(
    #[prop(into)] what: String,
    value: String,
    on_done: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="once">
            <p>{format!("Copy this {what} now: it will not be shown again.")}</p>
            <CopyField value=value test_id="shown-once"/>
            <div class="row spaced-top">
                <button type="button" class="btn small" on:click=move |_| on_done.run(())>"Done"</button>
            </div>
        </div>
    }
}
