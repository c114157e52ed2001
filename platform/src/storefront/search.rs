//! `GET /search?q=`: the catalog search page, whose facets and sorting are plain links and
//! forms; `GET /search/suggest.json?q=`: products and collections for the search box.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use billing::Currency;
use search::{Filters, PriceRange, SearchRequest, SearchResults, Sort, Synonyms};
use serde::{Deserialize, Serialize};
use tenant_store::catalog::search_feed::{CollectionLabel, SEARCH_AIDS, SearchAids};
use tower_sessions::Session;

use super::layout::{self, Shop, display_money};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};

/// Results per page.
const PAGE_SIZE: usize = 24;
/// Deepest page served (results beyond it are better found by narrowing the search).
const MAX_PAGE: usize = 50;
/// Longest query looked at, in characters.
const MAX_QUERY_CHARS: usize = 200;
/// Products and collections suggested at most.
const SUGGESTIONS: usize = 6;

/// The page's parameters; every one is optional and malformed ones are ignored.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    collection: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default, rename = "type")]
    product_type: Option<String>,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    in_stock: Option<String>,
    #[serde(default)]
    page: Option<String>,
}

impl SearchParams {
    fn query(&self) -> String {
        self.q.chars().take(MAX_QUERY_CHARS).collect()
    }

    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .clamp(1, MAX_PAGE)
    }

    fn filters(&self) -> Filters {
        let value = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Filters {
            collection: value(&self.collection),
            vendor: value(&self.vendor),
            product_type: value(&self.product_type),
            price: self.price.as_deref().and_then(PriceRange::parse),
            in_stock: self.in_stock.as_deref().is_some_and(|v| v == "1"),
        }
    }

    /// `/search?...` for these parameters with `change` applied (and back to page 1).
    fn url(&self, sort: Sort, filters: &Filters, page: usize) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        out.append_pair("q", &self.query());
        if sort != Sort::Relevance {
            out.append_pair("sort", sort.as_str());
        }
        if let Some(v) = &filters.collection {
            out.append_pair("collection", v);
        }
        if let Some(v) = &filters.vendor {
            out.append_pair("vendor", v);
        }
        if let Some(v) = &filters.product_type {
            out.append_pair("type", v);
        }
        if let Some(v) = &filters.price {
            out.append_pair("price", &v.as_param());
        }
        if filters.in_stock {
            out.append_pair("in_stock", "1");
        }
        if page > 1 {
            out.append_pair("page", &page.to_string());
        }
        format!("/search?{}", out.finish())
    }
}

/// A link that sets or clears one filter.
#[derive(Debug, Serialize)]
struct FacetLink {
    label: String,
    count: u64,
    url: String,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct FacetGroup {
    name: &'static str,
    links: Vec<FacetLink>,
}

#[derive(Debug, Serialize)]
struct SortOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct ResultView {
    url: String,
    title: String,
    title_html: String,
    snippet_html: String,
    vendor: String,
    price: String,
    sold_out: bool,
}

#[derive(Debug, Serialize)]
struct Correction {
    query: String,
    url: String,
}

#[derive(Serialize)]
struct SearchView {
    shop: Shop,
    query: String,
    sort: &'static str,
    sort_options: Vec<SortOption>,
    filters: Vec<HiddenFilter>,
    total: usize,
    results: Vec<ResultView>,
    facets: Vec<FacetGroup>,
    active: Vec<FacetLink>,
    correction: Option<Correction>,
    page: usize,
    previous_url: Option<String>,
    next_url: Option<String>,
}

/// A filter carried through the sort form as a hidden field.
#[derive(Debug, Serialize)]
struct HiddenFilter {
    name: &'static str,
    value: String,
}

const SORTS: [(Sort, &str); 4] = [
    (Sort::Relevance, "Relevance"),
    (Sort::PriceAsc, "Price, low to high"),
    (Sort::PriceDesc, "Price, high to low"),
    (Sort::Newest, "Newest"),
];

/// `GET /search`: results with facets, sorting and pages.
pub async fn show_search(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Query(params): Query<SearchParams>,
) -> Result<Response, AppError> {
    let query = params.query();
    let sort = Sort::parse(&params.sort).unwrap_or_default();
    let filters = params.filters();
    let page = params.page();
    let base = request_base_url(&app, &headers);
    let shop = Shop::for_page(&app, &tenant, &session, base).await?;
    let aids = search_aids(&app, &tenant).await?;
    let synonyms = Synonyms::new(&aids.synonyms);
    let collections = &aids.collections;
    let request = SearchRequest {
        query: query.clone(),
        filters: filters.clone(),
        include_unpublished: false,
        sort,
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
        facets: true,
        highlight: true,
        correct: true,
    };
    let found = app
        .search
        .search(&tenant.schema, request, synonyms)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let currency = shop.currency()?;
    let view = SearchView {
        sort: sort.as_str(),
        sort_options: SORTS
            .iter()
            .map(|(s, label)| SortOption {
                value: s.as_str(),
                label,
                selected: *s == sort,
            })
            .collect(),
        filters: hidden_filters(&filters),
        total: found.total,
        results: results(&found, currency),
        facets: facet_groups(&params, sort, &filters, &found, collections, currency),
        active: active_filters(&params, sort, &filters, collections, currency),
        correction: found.correction.as_ref().map(|c| Correction {
            query: c.clone(),
            url: SearchParams {
                q: c.clone(),
                ..params.clone()
            }
            .url(sort, &filters, 1),
        }),
        previous_url: (page > 1).then(|| params.url(sort, &filters, page - 1)),
        next_url: (page * PAGE_SIZE < found.total && page < MAX_PAGE)
            .then(|| params.url(sort, &filters, page + 1)),
        page,
        query,
        shop,
    };
    layout::page(&app, &tenant, &headers, "store/search.html", &view).await
}

/// The store's synonyms and collection labels, in one read on the read lane: not kept in
/// memory, so a synonym saved a moment ago applies to the very next search.
async fn search_aids(app: &AppState, tenant: &CurrentTenant) -> Result<SearchAids, AppError> {
    let rows = tenant_store::read_at_once(&app.reads, &tenant.schema, SEARCH_AIDS, &[]).await?;
    Ok(SearchAids::from_rows(&rows)?)
}

fn results(found: &SearchResults, currency: Currency) -> Vec<ResultView> {
    found
        .hits
        .iter()
        .map(|h| ResultView {
            url: format!("/products/{}", h.handle),
            title: h.title.clone(),
            title_html: h.title_html.clone(),
            snippet_html: h.snippet_html.clone(),
            vendor: h.vendor.clone(),
            price: display_money(h.price_minor, currency),
            sold_out: !h.in_stock,
        })
        .collect()
}

fn hidden_filters(filters: &Filters) -> Vec<HiddenFilter> {
    let mut hidden = Vec::new();
    let mut push = |name, value: Option<String>| {
        if let Some(value) = value {
            hidden.push(HiddenFilter { name, value });
        }
    };
    push("collection", filters.collection.clone());
    push("vendor", filters.vendor.clone());
    push("type", filters.product_type.clone());
    push("price", filters.price.map(|p| p.as_param()));
    push("in_stock", filters.in_stock.then(|| "1".to_owned()));
    hidden
}

fn price_label(range: PriceRange, currency: Currency) -> String {
    match (range.min, range.max) {
        (None | Some(0), Some(max)) => format!("Under {}", display_money(max, currency)),
        (Some(min), None) => format!("{} and up", display_money(min, currency)),
        (Some(min), Some(max)) => format!(
            "{} to {}",
            display_money(min, currency),
            display_money(max, currency)
        ),
        (None, None) => "Any price".to_owned(),
    }
}

fn facet_groups(
    params: &SearchParams,
    sort: Sort,
    filters: &Filters,
    found: &SearchResults,
    collections: &[CollectionLabel],
    currency: Currency,
) -> Vec<FacetGroup> {
    let titles: HashMap<&str, &str> = collections
        .iter()
        .filter(|c| c.published)
        .map(|c| (c.handle.as_str(), c.title.as_str()))
        .collect();
    let link = |label: String, count: u64, selected: bool, change: &dyn Fn(&mut Filters)| {
        let mut next = filters.clone();
        change(&mut next);
        FacetLink {
            label,
            count,
            url: params.url(sort, &next, 1),
            selected,
        }
    };
    let mut groups = Vec::new();
    let collection_links: Vec<FacetLink> = found
        .facets
        .collections
        .iter()
        .filter_map(|f| {
            let title = titles.get(f.value.as_str())?;
            let selected = filters.collection.as_deref() == Some(f.value.as_str());
            let value = f.value.clone();
            Some(link(
                (*title).to_owned(),
                f.count,
                selected,
                &move |n: &mut Filters| {
                    n.collection = (!selected).then(|| value.clone());
                },
            ))
        })
        .collect();
    groups.push(FacetGroup {
        name: "Collection",
        links: collection_links,
    });
    let values = |list: &[search::FacetCount],
                  current: &Option<String>,
                  set: fn(&mut Filters, Option<String>)| {
        list.iter()
            .map(|f| {
                let selected = current.as_deref() == Some(f.value.as_str());
                let value = f.value.clone();
                link(
                    f.value.clone(),
                    f.count,
                    selected,
                    &move |n: &mut Filters| {
                        set(n, (!selected).then(|| value.clone()));
                    },
                )
            })
            .collect::<Vec<_>>()
    };
    groups.push(FacetGroup {
        name: "Brand",
        links: values(&found.facets.vendors, &filters.vendor, |n, v| n.vendor = v),
    });
    groups.push(FacetGroup {
        name: "Type",
        links: values(&found.facets.types, &filters.product_type, |n, v| {
            n.product_type = v
        }),
    });
    groups.push(FacetGroup {
        name: "Price",
        links: found
            .facets
            .prices
            .iter()
            .filter(|p| p.count > 0 || filters.price == Some(p.range))
            .map(|p| {
                let selected = filters.price == Some(p.range);
                let range = p.range;
                link(
                    price_label(p.range, currency),
                    p.count,
                    selected,
                    &move |n: &mut Filters| {
                        n.price = (!selected).then_some(range);
                    },
                )
            })
            .collect(),
    });
    groups.push(FacetGroup {
        name: "Availability",
        links: vec![link(
            "In stock".to_owned(),
            found.facets.in_stock,
            filters.in_stock,
            &|n: &mut Filters| n.in_stock = !n.in_stock,
        )],
    });
    groups.retain(|g| !g.links.is_empty());
    groups
}

/// The filters in force, each with a link that removes it.
fn active_filters(
    params: &SearchParams,
    sort: Sort,
    filters: &Filters,
    collections: &[CollectionLabel],
    currency: Currency,
) -> Vec<FacetLink> {
    let mut active = Vec::new();
    let mut remove = |label: String, change: &dyn Fn(&mut Filters)| {
        let mut next = filters.clone();
        change(&mut next);
        active.push(FacetLink {
            label,
            count: 0,
            url: params.url(sort, &next, 1),
            selected: true,
        });
    };
    if let Some(handle) = &filters.collection {
        let title = collections
            .iter()
            .find(|c| &c.handle == handle)
            .map_or(handle.clone(), |c| c.title.clone());
        remove(title, &|n| n.collection = None);
    }
    if let Some(v) = &filters.vendor {
        remove(v.clone(), &|n| n.vendor = None);
    }
    if let Some(v) = &filters.product_type {
        remove(v.clone(), &|n| n.product_type = None);
    }
    if let Some(range) = filters.price {
        remove(price_label(range, currency), &|n| n.price = None);
    }
    if filters.in_stock {
        remove("In stock".to_owned(), &|n| n.in_stock = false);
    }
    active
}

/// One suggestion for the search box.
#[derive(Debug, Serialize)]
pub struct Suggestion {
    title: String,
    url: String,
}

/// The search box's suggestions.
#[derive(Debug, Serialize)]
pub struct Suggestions {
    products: Vec<Suggestion>,
    collections: Vec<Suggestion>,
}

/// `GET /search/suggest.json?q=`: products matching what is typed so far (typo-tolerant, the
/// last word as a prefix) and collections whose title contains a typed word.
pub async fn suggest(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    Query(params): Query<SearchParams>,
) -> Result<Json<Suggestions>, AppError> {
    let query = params.query();
    if query.trim().is_empty() {
        return Ok(Json(Suggestions {
            products: Vec::new(),
            collections: Vec::new(),
        }));
    }
    let aids = search_aids(&app, &tenant).await?;
    let synonyms = Synonyms::new(&aids.synonyms);
    let labels = &aids.collections;
    let request = SearchRequest {
        query: query.clone(),
        limit: SUGGESTIONS,
        ..SearchRequest::default()
    };
    let found = app
        .search
        .search(&tenant.schema, request, synonyms)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let typed: Vec<String> = query
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .filter(|w| w.chars().count() >= 2)
        .collect();
    let collections = labels
        .iter()
        .filter(|c| c.published)
        .filter(|c| {
            let title = c.title.to_lowercase();
            typed
                .iter()
                .any(|w| title.contains(w.as_str()) || c.handle.contains(w.as_str()))
        })
        .take(SUGGESTIONS)
        .map(|c| Suggestion {
            url: format!("/collections/{}", c.handle),
            title: c.title.clone(),
        })
        .collect();
    Ok(Json(Suggestions {
        products: found
            .hits
            .into_iter()
            .map(|h| Suggestion {
                url: format!("/products/{}", h.handle),
                title: h.title,
            })
            .collect(),
        collections,
    }))
}
