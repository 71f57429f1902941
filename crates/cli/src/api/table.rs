//! The route table of the local API: which routes serve which command of the core's command table,
//! which commands are not served over HTTP, and the API's own routes. The router and its OpenAPI
//! document come from the handlers' annotations; tests hold them to this table, and the document names
//! each route's command (`x-souk-command`) from it.

/// Every route the table names: its path and methods, in the order of [`COMMAND_ROUTES`] then
/// [`HTTP_ONLY`]. Tests check the router (and so its generated OpenAPI document) serves exactly these.
#[cfg(test)]
pub fn routes() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    let all = COMMAND_ROUTES
        .iter()
        .flat_map(|(_, routes)| routes.iter())
        .chain(HTTP_ONLY.iter());
    for (method, path) in all {
        match out.iter_mut().find(|(p, _)| p == path) {
            Some((_, methods)) => methods.push(method),
            None => out.push((path, vec![method])),
        }
    }
    out
}

/// Each command of the core's command table (`souk_core::command_table!`) and the routes that serve it
/// here. A test fails when a command lacks its routes (and is not in [`NOT_OVER_HTTP`]), or when a route
/// serves no command (and is not in [`HTTP_ONLY`]).
pub const COMMAND_ROUTES: &[(&str, &[(&str, &str)])] = &[
    ("app_status", &[("get", "/api/v1/app-status")]),
    ("network_status", &[("get", "/api/v1/network")]),
    ("offers", &[("get", "/api/v1/offers")]),
    ("book_page", &[("get", "/api/v1/book")]),
    ("my_offers", &[("get", "/api/v1/my-offers")]),
    ("post_offer", &[("post", "/api/v1/offers")]),
    ("withdraw_offer", &[("delete", "/api/v1/offers/{id}")]),
    (
        "refresh_market",
        &[("post", "/api/v1/markets/{base}/{quote}/refresh")],
    ),
    (
        "market_price",
        &[("get", "/api/v1/markets/{base}/{quote}/price")],
    ),
    ("take_offer", &[("post", "/api/v1/trades")]),
    (
        "answer_trade",
        &[
            ("post", "/api/v1/trades/{id}/accept"),
            ("post", "/api/v1/trades/{id}/reject"),
            ("post", "/api/v1/trades/{id}/counter"),
        ],
    ),
    ("trades", &[("get", "/api/v1/trades")]),
    ("trade", &[("get", "/api/v1/trades/{id}")]),
    ("chat_log", &[("get", "/api/v1/trades/{id}/messages")]),
    ("send_chat", &[("post", "/api/v1/trades/{id}/messages")]),
    ("mark_read", &[("post", "/api/v1/trades/{id}/read")]),
    (
        "set_escrow_address",
        &[("post", "/api/v1/trades/{id}/address")],
    ),
    ("fund_from_wallet", &[("post", "/api/v1/trades/{id}/fund")]),
    ("mark_paid", &[("post", "/api/v1/trades/{id}/paid")]),
    ("mark_received", &[("post", "/api/v1/trades/{id}/received")]),
    ("cancel_trade", &[("post", "/api/v1/trades/{id}/cancel")]),
    ("dispute_trade", &[("post", "/api/v1/trades/{id}/dispute")]),
    ("preferences", &[("get", "/api/v1/preferences")]),
    ("save_preferences", &[("put", "/api/v1/preferences")]),
    ("chain_status", &[("get", "/api/v1/chain")]),
    ("disputes", &[("get", "/api/v1/disputes")]),
    ("dispute_info", &[("get", "/api/v1/disputes/{id}")]),
    (
        "resolve_dispute",
        &[("post", "/api/v1/disputes/{id}/resolve")],
    ),
    ("startup_progress", &[("get", "/api/v1/startup")]),
    ("retry_startup", &[("post", "/api/v1/startup/retry")]),
    (
        "connection_settings",
        &[("get", "/api/v1/settings/connection")],
    ),
    (
        "save_connection_settings",
        &[("put", "/api/v1/settings/connection")],
    ),
    (
        "test_chain_connection",
        &[("post", "/api/v1/settings/connection/test")],
    ),
    ("export_backup", &[("post", "/api/v1/backup/export")]),
    ("backup_settings", &[("get", "/api/v1/settings/backup")]),
    (
        "save_backup_settings",
        &[("put", "/api/v1/settings/backup")],
    ),
    ("reputation", &[("get", "/api/v1/reputation/{peer}")]),
    ("rate_trade", &[("post", "/api/v1/trades/{id}/rating")]),
];

/// Commands of the table the HTTP API does not serve, and why.
pub const NOT_OVER_HTTP: &[(&str, &str)] = &[
    (
        "create_identity",
        "a headless node's identity is made where it runs (souk init), never over the network",
    ),
    (
        "restore_identity",
        "a headless node's identity is restored where it runs (souk init --restore)",
    ),
    (
        "import_backup",
        "a headless node imports a backup where it runs (souk backup import)",
    ),
    (
        "unlock",
        "a headless node is unlocked where it starts (souk node asks for the passphrase)",
    ),
];

/// Routes of the HTTP API's own, serving no command of the table.
#[cfg(test)]
pub const HTTP_ONLY: &[(&str, &str)] = &[
    ("get", "/api/v1/status"),
    ("get", "/api/v1/peers"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/trades/{id}/receipt"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_of_the_table_has_its_routes_and_every_route_serves_one() {
        use std::collections::BTreeSet;
        let table: BTreeSet<&str> = souk_core::bindings::COMMAND_NAMES.iter().copied().collect();
        let mapped: BTreeSet<&str> = COMMAND_ROUTES.iter().map(|(name, _)| *name).collect();
        let excused: BTreeSet<&str> = NOT_OVER_HTTP.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            mapped.len(),
            COMMAND_ROUTES.len(),
            "a command is mapped twice"
        );
        assert!(
            mapped.is_disjoint(&excused),
            "{:?}",
            mapped.intersection(&excused)
        );
        let served: BTreeSet<&str> = mapped.union(&excused).copied().collect();
        assert_eq!(
            table.difference(&served).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "commands of the table the HTTP API neither serves nor excuses"
        );
        assert_eq!(
            served.difference(&table).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "commands served or excused here that the table does not have"
        );
        let routes: BTreeSet<(&str, &str)> = routes()
            .into_iter()
            .flat_map(|(path, methods)| methods.into_iter().map(move |m| (m, path)))
            .collect();
        let claimed: Vec<(&str, &str)> = COMMAND_ROUTES
            .iter()
            .flat_map(|(_, routes)| routes.iter().copied())
            .chain(HTTP_ONLY.iter().copied())
            .collect();
        let claimed_set: BTreeSet<(&str, &str)> = claimed.iter().copied().collect();
        assert_eq!(
            claimed.len(),
            claimed_set.len(),
            "a route serves two commands"
        );
        assert_eq!(
            routes.difference(&claimed_set).collect::<Vec<_>>(),
            Vec::<&(&str, &str)>::new(),
            "routes that serve no command and are not the API's own"
        );
        assert_eq!(
            claimed_set.difference(&routes).collect::<Vec<_>>(),
            Vec::<&(&str, &str)>::new(),
            "routes named for a command that the router lacks"
        );
    }
}
