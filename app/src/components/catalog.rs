//! The catalog picker: integration tiles grouped by kind, with a search box.

use leptos::prelude::*;

/// One pickable integration.
#[derive(Clone)]
pub struct Tile {
    /// The definition name (`type` in the API).
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub group: String,
}

#[component]
pub fn CatalogPicker(
    /// (group key, heading), in display order.
    groups: &'static [(&'static str, &'static str)],
    tiles: Vec<Tile>,
    #[prop(into)] search_placeholder: String,
    /// Called with the picked tile's definition name.
    on_pick: Callback<String>,
) -> impl IntoView {
    let search = RwSignal::new(String::new());
    view! {
        <input class="search" type="text" placeholder=search_placeholder prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
        {move || {
            let needle = search.get().to_lowercase();
            groups.iter().map(|(group, heading)| {
                let matching: Vec<Tile> = tiles.iter()
                    .filter(|t| t.group == *group && (needle.is_empty() || t.display_name.to_lowercase().contains(&needle)))
                    .cloned()
                    .collect();
                (!matching.is_empty()).then(|| view! {
                    <h2 class="catalog-group">{*heading}</h2>
                    <div class="catalog">
                        {matching.into_iter().map(|t| {
                            let name = t.name.clone();
                            view! {
                                <button type="button" class="tile" data-type=t.name.clone() on:click=move |_| on_pick.run(name.clone())>
                                    <span class="tile-title">{t.display_name}</span>
                                    <span class="tile-desc">{t.description}</span>
                                </button>
                            }
                        }).collect_view()}
                    </div>
                })
            }).collect_view()
        }}
    }
}
