//! The buyer's computer dies while coins sit in a funded 2-of-3 escrow on a real Litecoin regtest chain,
//! and the buyer restores a backup into an empty data directory.
//! - A backup of the trade as it stands: the restored node finds the trade, the buyer says it paid, the
//!   seller releases, and the chain pays the buyer the amount and its deposit.
//! - A backup older than the buyer's last step ("paid"): the restored node is behind, learns from the
//!   seller that it keeps a newer copy of the buyer's own trade, catches up from it, and the chain pays
//!   the buyer all the same.

use souk_core::{ErrorKind, node::BackupSummary};
use souk_tests::{
    PASSPHRASE,
    funded::{Funded, funded_escrow, in_state, start_party},
    node,
};

/// The buyer exports a backup while its node runs.
async fn take_backup(funded: &Funded) -> BackupSummary {
    let backups = funded.dir.path("backups");
    std::fs::create_dir_all(&backups).unwrap();
    funded
        .taker
        .node
        .export_backup(backups.to_str().unwrap(), PASSPHRASE)
        .await
        .expect("export")
}

/// The buyer's data directory is lost; `backup` is imported into an empty one, and the buyer's node
/// starts again from it. A wrong passphrase changes nothing.
async fn restore(mut funded: Funded, backup: &BackupSummary) -> Funded {
    let peer = funded.taker.info.peer_id.clone();
    let taker_dir = funded.taker.stop().await;
    std::fs::remove_dir_all(&taker_dir).unwrap();
    let restoring = node(&taker_dir);
    let err = restoring
        .import_backup(&backup.path, "not the passphrase")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongPassphrase);
    assert!(!taker_dir.exists());
    let imported = restoring
        .import_backup(&backup.path, PASSPHRASE)
        .await
        .expect("import");
    assert_eq!(imported.identity.peer_id, peer);
    assert_eq!(imported.backup.open_trades, 1);
    restoring.shutdown().await;
    funded.taker = start_party(&funded.ltc, &funded.bootstrap, taker_dir).await;
    funded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_brings_back_a_funded_escrow_and_the_chain_pays_the_buyer() {
    let funded = funded_escrow().await;
    let backup = take_backup(&funded).await;
    assert_eq!((backup.trades, backup.open_trades), (1, 1));
    let funded = restore(funded, &backup).await;
    let back = in_state(&funded.taker, &funded.trade, "EscrowFunded").await;
    assert_eq!(back.escrow.unwrap().funding_txids.len(), 2);
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    funded.release_pays_the_buyer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_older_than_the_buyer_s_payment_catches_up_from_the_seller_s_copy() {
    let funded = funded_escrow().await;
    let backup = take_backup(&funded).await;
    // After the backup, the buyer says it paid; the seller has it, and keeps the buyer's copy of the
    // trade as it is now. Then the buyer's disk dies.
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    in_state(&funded.maker, &funded.trade, "PaymentSent").await;
    funded
        .taker
        .await_trade(funded.trade.id, "the seller to keep the copy", |t| {
            t.state.as_str() == "PaymentSent"
                && t.escrow
                    .as_ref()
                    .and_then(|e| e.recovery_copy_at)
                    .is_some_and(|at| at >= t.updated_at)
        })
        .await;
    let funded = restore(funded, &backup).await;

    // The restored node was where the backup was; offering the seller its copy, it learns the seller
    // keeps a newer one, takes it, and is where it was before the loss: paid, without taking the step
    // again.
    let caught_up = in_state(&funded.taker, &funded.trade, "PaymentSent").await;
    assert!(
        caught_up
            .steps
            .iter()
            .any(|s| s.kind == "payment_sent" && s.mine),
        "{:?}",
        caught_up.steps
    );
    funded.release_pays_the_buyer(false).await;
}
