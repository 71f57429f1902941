//! The few control-port commands Tor mode needs, over tor's line protocol (control-spec §2–4):
//! a reply is lines `CODE-text` ending with `CODE text`, `CODE+key=` opens a data block ended by `.`;
//! asynchronous events (`650 …`) may arrive between replies and are queued for [`Control::next_event`].

use std::{collections::VecDeque, net::SocketAddr, path::Path};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};

use crate::net::NetError;

/// The longest line read from tor (a consensus is never asked for here).
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct Control {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    events: VecDeque<String>,
}

impl Control {
    /// Connects and authenticates with the cookie tor wrote.
    pub(super) async fn connect(addr: SocketAddr, cookie_file: &Path) -> Result<Self, NetError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| NetError::Tor(format!("cannot reach tor's control port {addr}: {e}")))?;
        let (read, writer) = stream.into_split();
        let mut control = Self {
            reader: BufReader::new(read),
            writer,
            events: VecDeque::new(),
        };
        let cookie = std::fs::read(cookie_file).map_err(|e| {
            NetError::Tor(format!(
                "cannot read tor's cookie {}: {e}",
                cookie_file.display()
            ))
        })?;
        let hex: String = cookie.iter().map(|b| format!("{b:02x}")).collect();
        control.command(&format!("AUTHENTICATE {hex}")).await?;
        Ok(control)
    }

    /// Sends one command; its reply's lines (codes stripped, data blocks joined) when tor says 250.
    pub(super) async fn command(&mut self, command: &str) -> Result<Vec<String>, NetError> {
        let verb = command.split_whitespace().next().unwrap_or("").to_owned();
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .map_err(|e| lost(&e))?;
        let mut lines = Vec::new();
        loop {
            let line = self.line().await?;
            if line.starts_with("650") {
                self.read_event(line).await?;
                continue;
            }
            let (code, sep, text) = split(&line)?;
            if code != "250" {
                return Err(NetError::Tor(format!("tor refused {verb}: {code} {text}")));
            }
            match sep {
                '+' => {
                    let mut block = text.to_owned();
                    loop {
                        let data = self.line().await?;
                        if data == "." {
                            break;
                        }
                        block.push('\n');
                        block.push_str(data.strip_prefix('.').unwrap_or(&data));
                    }
                    lines.push(block);
                }
                '-' => lines.push(text.to_owned()),
                _ => {
                    if text != "OK" {
                        lines.push(text.to_owned());
                    }
                    return Ok(lines);
                }
            }
        }
    }

    /// One `GETINFO key`'s value.
    pub(super) async fn getinfo(&mut self, key: &str) -> Result<String, NetError> {
        let reply = self.command(&format!("GETINFO {key}")).await?;
        reply
            .iter()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim_start_matches('\n').to_owned())
            .ok_or_else(|| NetError::Tor(format!("tor did not answer GETINFO {key}")))
    }

    /// The next asynchronous event's first line, without its `650 `.
    pub(super) async fn next_event(&mut self) -> Result<String, NetError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            let line = self.line().await?;
            if line.starts_with("650") {
                self.read_event(line).await?;
            }
        }
    }

    async fn read_event(&mut self, first: String) -> Result<(), NetError> {
        let (_, sep, text) = split(&first)?;
        let text = text.to_owned();
        // A multi-line event: skip to its last line.
        if sep != ' ' {
            loop {
                let line = self.line().await?;
                if sep == '+' && line == "." {
                    continue;
                }
                if line.starts_with("650 ") {
                    break;
                }
            }
        }
        self.events.push_back(text);
        Ok(())
    }

    async fn line(&mut self) -> Result<String, NetError> {
        let mut line = String::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .await
            .map_err(|e| lost(&e))?;
        if n == 0 {
            return Err(NetError::Tor("tor closed its control connection".into()));
        }
        if !line.ends_with('\n') {
            return Err(NetError::Tor("tor sent an over-long control line".into()));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn lost(e: &std::io::Error) -> NetError {
    NetError::Tor(format!("lost tor's control connection: {e}"))
}

fn split(line: &str) -> Result<(&str, char, &str), NetError> {
    let bad = || NetError::Tor(format!("tor sent a control line we cannot read: {line:?}"));
    let code = line.get(..3).ok_or_else(bad)?;
    let sep = line[3..].chars().next().unwrap_or(' ');
    if !code.bytes().all(|b| b.is_ascii_digit()) || !matches!(sep, ' ' | '-' | '+') {
        return Err(bad());
    }
    Ok((code, sep, line.get(4..).unwrap_or("")))
}

/// `KEY=value KEY="quoted \"value\""` → pairs; words without `=` are skipped.
pub(super) fn parse_fields(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ' ' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        chars.next();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_quotes_and_escapes() {
        assert_eq!(
            parse_fields(r#"NOTICE A=1 B="two words" C="say \"hi\"" D"#),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "say \"hi\"".into()),
            ]
        );
    }

    #[test]
    fn reply_lines_are_split_or_refused() {
        assert_eq!(
            split("250-ServiceID=abc").unwrap(),
            ("250", '-', "ServiceID=abc")
        );
        assert_eq!(split("250 OK").unwrap(), ("250", ' ', "OK"));
        assert!(split("hello").is_err());
    }
}
