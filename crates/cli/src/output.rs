//! What the one-shot commands print: JSON for scripts, and for people an identity, its seed words once, and
//! what a backup written, imported or inspected holds.

use serde::Serialize;
use souk_core::node::{CreatedIdentity, IdentityInfo};

pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

pub(crate) fn print_info(json: bool, info: &IdentityInfo, heading: &str) {
    if json {
        return print_json(info);
    }
    print!("{heading}");
    println!("PeerId:          {}", info.peer_id);
    println!("Data directory:  {}", info.data_dir);
    println!("Schema version:  {}", info.schema_version);
}

/// `1.4 MiB`, `820 KiB`, `312 bytes`.
fn size_text(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.0} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

fn trades_text(trades: u32, open: u32) -> String {
    let noun = if trades == 1 { "trade" } else { "trades" };
    format!("{trades} {noun}, {open} open")
}

pub(crate) fn print_exported(json: bool, summary: &souk_core::node::BackupSummary) {
    if json {
        return print_json(summary);
    }
    println!("Backup written to {}", summary.path);
    println!("PeerId:   {}", summary.peer_id);
    println!(
        "Made:     {}",
        souk_core::backup::utc_text(summary.created_at_ms)
    );
    println!(
        "Holds:    the keystore, the database ({}){}",
        trades_text(summary.trades, summary.open_trades),
        if summary.has_config {
            ", souk.toml"
        } else {
            ""
        }
    );
    println!("Size:     {}", size_text(summary.bytes));
    println!("It opens with your keystore passphrase. Keep it somewhere other than this computer.");
}

pub(crate) fn print_imported(json: bool, imported: &souk_core::node::ImportedBackup) {
    if json {
        return print_json(imported);
    }
    let backup = &imported.backup;
    print_info(
        false,
        &imported.identity,
        &format!(
            "Restored the backup made {}\n",
            souk_core::backup::utc_text(backup.created_at_ms)
        ),
    );
    println!(
        "Trades:          {}",
        trades_text(backup.trades, backup.open_trades)
    );
    if imported.config_restored {
        println!("Settings:        souk.toml restored");
    } else if backup.has_config {
        println!(
            "Settings:        this data directory's own souk.toml was kept (the backup's was not written)"
        );
    }
    if backup.open_trades > 0 {
        println!(
            "Start `souk node` to go on with the open trades. Anything after the backup was made is not in it: \
             take a step you took since then again (`souk trade show` says what is next)."
        );
    }
}

pub(crate) fn print_backup_info(json: bool, info: &souk_core::node::BackupFileInfo) {
    if json {
        return print_json(info);
    }
    println!("Souk backup {}", info.path);
    println!("PeerId:   {}", info.peer_id);
    println!(
        "Made:     {}",
        souk_core::backup::utc_text(info.created_at_ms)
    );
    println!("Size:     {}", size_text(info.bytes));
}

pub(crate) fn print_created(json: bool, created: &CreatedIdentity) {
    if json {
        return print_json(created);
    }
    print_info(false, &created.identity, "Created a new identity\n");
    println!();
    println!(
        "Your seed words. Write them down now, on paper, in order: they are shown only this once and are"
    );
    println!("the only way to recover this identity and the funds in its escrows.");
    println!();
    for (row, chunk) in created.words.chunks(4).enumerate() {
        let line: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{:>2}. {w:<10}", row * 4 + i + 1))
            .collect();
        println!("  {}", line.join(" "));
    }
}
