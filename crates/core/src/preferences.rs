//! What a person chooses once and expects remembered: the theme, which notifications to show, and
//! the payment accounts they trade with. Kept as one JSON value in the database's `settings` table,
//! so a backup of the data directory carries it. (How the node connects — chain backend, bootstrap
//! peers — is `souk.toml`'s business, see [`crate::config`].)

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::{Error, book::BookQuery, offer::PaymentMethod};

/// The `settings` key the preferences are stored under.
pub const KEY: &str = "preferences";
/// At most this many payment accounts.
pub const MAX_ACCOUNTS: usize = 50;
pub const MAX_LABEL_CHARS: usize = 64;
pub const MAX_DETAILS_CHARS: usize = 1000;
/// At most this many accepted (and as many excluded) arbitrators.
pub const MAX_ARBITRATORS: usize = 100;
/// At most this many saved searches.
pub const MAX_SAVED_SEARCHES: usize = 20;
/// The longest nickname, in characters.
pub const MAX_NICKNAME_CHARS: usize = 24;

/// Why a nickname cannot be used, if it cannot: at most [`MAX_NICKNAME_CHARS`] characters, no control
/// characters, no space at either end.
pub fn nickname_problem(nickname: &str) -> Option<String> {
    if nickname.chars().count() > MAX_NICKNAME_CHARS {
        return Some(format!(
            "a nickname of {} characters; at most {MAX_NICKNAME_CHARS}",
            nickname.chars().count()
        ));
    }
    if nickname.chars().any(char::is_control) {
        return Some("a nickname with control characters".into());
    }
    if nickname.trim() != nickname {
        return Some("a nickname with spaces at either end".into());
    }
    None
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    pub theme: Theme,
    pub notifications: NotificationPrefs,
    pub payment_accounts: Vec<PaymentAccount>,
    /// The arbitrators this person accepts on offers it takes (PeerIds); empty: any announced arbitrator
    /// that is neither party and not excluded. Added to `[trade] arbitrators` of souk.toml.
    pub accepted_arbitrators: Vec<String>,
    /// Arbitrators this person never accepts (PeerIds). Added to `[trade] exclude_arbitrators`.
    pub excluded_arbitrators: Vec<String>,
    /// Filters of the Market screen kept by name: a new offer matching one is announced
    /// ([`crate::market::MarketEvent::OfferMatched`], and a notification while `matching_offer` is on).
    pub saved_searches: Vec<SavedSearch>,
    /// A name this person chooses to be shown with, signed and published with its trade receipts; empty:
    /// none. Other nodes show it in quotes after the name every node derives from the PeerId.
    pub nickname: String,
}

/// A Market filter kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedSearch {
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub id: Uuid,
    pub name: String,
    pub query: BookQuery,
}

/// Light, dark, or whatever the system says.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// Which desktop notifications to show. All on by default: a taken offer nobody sees is a lost trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationPrefs {
    /// Someone took one of my offers.
    pub offer_taken: bool,
    /// A new chat message or negotiation step from the counterparty.
    pub message: bool,
    /// Escrow steps: funded, confirmed, payment sent/received, released, disputed, resolved.
    pub escrow: bool,
    /// A trade deadline (funding, payment, release) is near.
    pub deadline: bool,
    /// A new offer matches a saved search.
    pub matching_offer: bool,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        Self {
            offer_taken: true,
            message: true,
            escrow: true,
            deadline: true,
            matching_offer: true,
        }
    }
}

/// An account this person can pay or be paid with: the method, a name they recognise it by, and the
/// details they give a counterparty (IBAN, phone number, …). Stays on this machine until they send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentAccount {
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub id: Uuid,
    pub method: PaymentMethod,
    pub label: String,
    pub details: String,
}

impl Preferences {
    /// Checks what a person typed; the first problem is reported with the account it concerns.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(problem) = nickname_problem(&self.nickname) {
            return Err(invalid(problem));
        }
        for (list, name) in [
            (&self.accepted_arbitrators, "accepted"),
            (&self.excluded_arbitrators, "excluded"),
        ] {
            if list.len() > MAX_ARBITRATORS {
                return Err(invalid(format!(
                    "at most {MAX_ARBITRATORS} {name} arbitrators, not {}",
                    list.len()
                )));
            }
            for peer in list {
                if peer.trim().parse::<libp2p::PeerId>().is_err() {
                    return Err(invalid(format!(
                        "{name} arbitrator {:?} is not a peer id (like 12D3KooW…)",
                        peer.chars()
                            .filter(|c| !c.is_control())
                            .take(80)
                            .collect::<String>()
                    )));
                }
            }
        }
        if let Some(both) = self
            .accepted_arbitrators
            .iter()
            .find(|p| self.excluded_arbitrators.contains(p))
        {
            return Err(invalid(format!(
                "arbitrator {both} is both accepted and excluded"
            )));
        }
        self.validate_searches()?;
        if self.payment_accounts.len() > MAX_ACCOUNTS {
            return Err(invalid(format!(
                "at most {MAX_ACCOUNTS} payment accounts, not {}",
                self.payment_accounts.len()
            )));
        }
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (i, account) in self.payment_accounts.iter().enumerate() {
            let which = format!("payment account {}", i + 1);
            let label = account.label.trim();
            if label.is_empty() {
                return Err(invalid(format!("{which} needs a name")));
            }
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(invalid(format!(
                    "{which}: the name is longer than {MAX_LABEL_CHARS} characters"
                )));
            }
            if label.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "{which}: the name contains control characters"
                )));
            }
            if account.details.trim().is_empty() {
                return Err(invalid(format!(
                    "{which} ({label}) needs the details you give a counterparty"
                )));
            }
            if account.details.chars().count() > MAX_DETAILS_CHARS {
                return Err(invalid(format!(
                    "{which} ({label}): the details are longer than {MAX_DETAILS_CHARS} characters"
                )));
            }
            if !ids.insert(account.id) {
                return Err(invalid(format!(
                    "{which} ({label}) has the same id as another account"
                )));
            }
            if !names.insert((account.method.clone(), label.to_lowercase())) {
                return Err(invalid(format!(
                    "two {} accounts are named {label:?}",
                    account.method
                )));
            }
        }
        Ok(())
    }

    fn validate_searches(&self) -> Result<(), Error> {
        if self.saved_searches.len() > MAX_SAVED_SEARCHES {
            return Err(invalid(format!(
                "at most {MAX_SAVED_SEARCHES} saved searches, not {}",
                self.saved_searches.len()
            )));
        }
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (i, search) in self.saved_searches.iter().enumerate() {
            let which = format!("saved search {}", i + 1);
            let name = search.name.trim();
            if name.is_empty() {
                return Err(invalid(format!("{which} needs a name")));
            }
            if name.chars().count() > MAX_LABEL_CHARS {
                return Err(invalid(format!(
                    "{which}: the name is longer than {MAX_LABEL_CHARS} characters"
                )));
            }
            if name.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "{which}: the name contains control characters"
                )));
            }
            if !ids.insert(search.id) {
                return Err(invalid(format!(
                    "{which} ({name}) has the same id as another search"
                )));
            }
            if !names.insert(name.to_lowercase()) {
                return Err(invalid(format!("two saved searches are named {name:?}")));
            }
        }
        Ok(())
    }

    /// The accepted and excluded arbitrators as peer ids (the stored ones were checked on saving).
    pub fn arbitrator_lists(&self) -> (Vec<libp2p::PeerId>, Vec<libp2p::PeerId>) {
        let peers = |list: &[String]| list.iter().filter_map(|p| p.trim().parse().ok()).collect();
        (
            peers(&self.accepted_arbitrators),
            peers(&self.excluded_arbitrators),
        )
    }

    /// The payment methods this person has an account for, each once, in the order first listed.
    pub fn my_payment_methods(&self) -> Vec<PaymentMethod> {
        let mut seen = HashSet::new();
        self.payment_accounts
            .iter()
            .filter(|a| seen.insert(a.method.clone()))
            .map(|a| a.method.clone())
            .collect()
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidInput(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(method: &str, label: &str, details: &str) -> PaymentAccount {
        PaymentAccount {
            id: Uuid::new_v4(),
            method: PaymentMethod::new(method).unwrap(),
            label: label.into(),
            details: details.into(),
        }
    }

    fn with(accounts: Vec<PaymentAccount>) -> Preferences {
        Preferences {
            payment_accounts: accounts,
            ..Preferences::default()
        }
    }

    fn error_of(p: &Preferences) -> String {
        p.validate().unwrap_err().to_string()
    }

    #[test]
    fn arbitrator_lists_hold_peer_ids_and_never_one_in_both() {
        let a = libp2p::PeerId::random().to_base58();
        let lists = |accepted: Vec<String>, excluded: Vec<String>| Preferences {
            accepted_arbitrators: accepted,
            excluded_arbitrators: excluded,
            ..Preferences::default()
        };
        assert!(lists(vec![a.clone()], vec![]).validate().is_ok());
        assert_eq!(
            lists(vec![a.clone()], vec![]).arbitrator_lists().0,
            [a.parse::<libp2p::PeerId>().unwrap()]
        );
        assert!(error_of(&lists(vec!["bob".into()], vec![])).contains("\"bob\" is not a peer id"));
        assert!(error_of(&lists(vec![], vec!["\u{1b}[2J".into()])).contains("excluded arbitrator"));
        assert!(
            error_of(&lists(vec![a.clone()], vec![a.clone()]))
                .contains("both accepted and excluded")
        );
        let many = vec![a; MAX_ARBITRATORS + 1];
        assert!(error_of(&lists(many, vec![])).contains("at most 100 accepted"));
    }

    #[test]
    fn saved_searches_have_distinct_plain_names_and_are_few() {
        let search = |name: &str| SavedSearch {
            id: Uuid::new_v4(),
            name: name.into(),
            query: BookQuery::default(),
        };
        let searches = |list: Vec<SavedSearch>| Preferences {
            saved_searches: list,
            ..Preferences::default()
        };
        assert!(
            searches(vec![search("Cheap BTC"), search("LTC by SEPA")])
                .validate()
                .is_ok()
        );
        assert!(error_of(&searches(vec![search(" ")])).contains("saved search 1 needs a name"));
        assert!(
            error_of(&searches(vec![search("a"), search("A ")])).contains("two saved searches")
        );
        assert!(error_of(&searches(vec![search("x\u{7}")])).contains("control characters"));
        let one = search("same");
        let mut twin = search("other");
        twin.id = one.id;
        assert!(error_of(&searches(vec![one, twin])).contains("same id"));
        let many = (0..=MAX_SAVED_SEARCHES)
            .map(|i| search(&format!("s{i}")))
            .collect();
        assert!(error_of(&searches(many)).contains("at most 20 saved searches"));
        // A value stored before saved searches existed loads without them, matching offers on.
        let old: Preferences =
            serde_json::from_str(r#"{"notifications":{"offer_taken":false}}"#).unwrap();
        assert!(old.saved_searches.is_empty() && old.notifications.matching_offer);
    }

    #[test]
    fn defaults_show_every_notification_and_follow_the_system_theme() {
        let p = Preferences::default();
        assert_eq!(p.theme, Theme::System);
        assert!(p.notifications.offer_taken && p.notifications.message);
        assert!(p.notifications.escrow && p.notifications.deadline);
        assert!(p.validate().is_ok());
        // An older stored value without newer fields still loads, with their defaults.
        let old: Preferences = serde_json::from_str(r#"{"theme":"dark"}"#).unwrap();
        assert_eq!(old.theme, Theme::Dark);
        assert_eq!(old.notifications, NotificationPrefs::default());
    }

    #[test]
    fn accounts_are_checked_with_a_reason_naming_the_account() {
        let good = account("SEPA", "Main bank", "DE89 3704 0044 0532 0130 00");
        assert!(with(vec![good.clone()]).validate().is_ok());

        let e = error_of(&with(vec![good.clone(), account("SEPA", "  ", "x")]));
        assert!(e.contains("payment account 2 needs a name"), "{e}");
        let e = error_of(&with(vec![account("ZELLE", "Phone", " \n")]));
        assert!(e.contains("(Phone) needs the details"), "{e}");
        let e = error_of(&with(vec![account("ZELLE", &"n".repeat(65), "x")]));
        assert!(e.contains("longer than 64"), "{e}");
        let e = error_of(&with(vec![account("ZELLE", "a\u{7}b", "x")]));
        assert!(e.contains("control characters"), "{e}");
        let e = error_of(&with(vec![account("ZELLE", "Phone", &"d".repeat(1001))]));
        assert!(e.contains("details are longer than 1000"), "{e}");
        let e = error_of(&with(vec![good.clone(), account("SEPA", "main BANK", "y")]));
        assert!(
            e.contains(r#"two SEPA accounts are named "main BANK""#),
            "{e}"
        );
        let mut twin = account("REVOLUT", "Other", "z");
        twin.id = good.id;
        let e = error_of(&with(vec![good.clone(), twin]));
        assert!(e.contains("same id"), "{e}");
        let many = (0..51)
            .map(|i| account("SEPA", &format!("a{i}"), "x"))
            .collect();
        assert!(error_of(&with(many)).contains("at most 50"));
        // The same name under another method is fine.
        assert!(
            with(vec![good, account("REVOLUT", "Main bank", "@me")])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn my_payment_methods_lists_each_method_once() {
        let p = with(vec![
            account("SEPA", "Main", "x"),
            account("REVOLUT", "Card", "y"),
            account("SEPA", "Savings", "z"),
        ]);
        let methods: Vec<String> = p
            .my_payment_methods()
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(methods, ["SEPA", "REVOLUT"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<Preferences>(r#"{"theme":"dark","colour":"red"}"#);
        assert!(e.is_err());
        let e = serde_json::from_str::<Preferences>(r#"{"theme":"purple"}"#);
        assert!(e.is_err());
    }
}
