//! A TCP stream whose received bytes become readable only `latency` after they arrived: one-way
//! latency on every connection of a node, for measuring the network as if its peers were far away
//! (the kernel here has no `tc netem`). Both ends delaying what they read gives a round trip of
//! twice the latency, as a real path would. Off unless [`super::NetConfig::added_latency`] is set.
//!
//! A task reads the socket as fast as it can and queues each chunk with the time it may be read;
//! writes go straight to the socket. The task ends with the stream (its handle aborts it on drop).

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use futures::{AsyncRead, AsyncWrite};
use tokio::{
    io::{AsyncReadExt, AsyncWrite as TokioWrite},
    net::tcp::OwnedWriteHalf,
    sync::mpsc,
    task::AbortHandle,
    time::{Instant, Sleep},
};

/// What the reading task hands over: bytes (or the end, as an empty chunk or an error) and when
/// they may be read.
type Chunk = (Instant, io::Result<Vec<u8>>);

/// A TCP stream, plain or with its reads delayed.
#[derive(Debug)]
pub enum MaybeDelayed {
    Plain(libp2p::tcp::tokio::TcpStream),
    Delayed(Delayed),
}

impl MaybeDelayed {
    /// `stream` as is when `latency` is zero, delayed otherwise.
    pub fn new(stream: libp2p::tcp::tokio::TcpStream, latency: Duration) -> Self {
        match latency.is_zero() {
            true => Self::Plain(stream),
            false => Self::Delayed(Delayed::new(stream.0, latency)),
        }
    }
}

/// The delayed form: see the module's text.
#[derive(Debug)]
pub struct Delayed {
    write: OwnedWriteHalf,
    chunks: mpsc::UnboundedReceiver<Chunk>,
    /// The chunk being read: the bytes not yet read from it.
    current: Option<(Vec<u8>, usize)>,
    /// A chunk that arrived and waits for its time.
    waiting: Option<Chunk>,
    sleep: Pin<Box<Sleep>>,
    ended: bool,
    reader: AbortHandle,
}

impl Delayed {
    fn new(stream: tokio::net::TcpStream, latency: Duration) -> Self {
        let (mut read, write) = stream.into_split();
        let (tx, chunks) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let got = read.read(&mut buf).await;
                let due = Instant::now() + latency;
                let end = !matches!(got, Ok(n) if n > 0);
                let chunk = got.map(|n| buf[..n].to_vec());
                if tx.send((due, chunk)).is_err() || end {
                    return;
                }
            }
        })
        .abort_handle();
        Self {
            write,
            chunks,
            current: None,
            waiting: None,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            ended: false,
            reader,
        }
    }

    fn poll_read_delayed(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some((bytes, at)) = &mut self.current {
                let n = (bytes.len() - *at).min(out.len());
                out[..n].copy_from_slice(&bytes[*at..*at + n]);
                *at += n;
                if *at == bytes.len() {
                    self.current = None;
                }
                return Poll::Ready(Ok(n));
            }
            if self.ended {
                return Poll::Ready(Ok(0));
            }
            if self.waiting.is_none() {
                match ready!(self.chunks.poll_recv(cx)) {
                    Some(chunk) => self.waiting = Some(chunk),
                    None => {
                        self.ended = true;
                        continue;
                    }
                }
            }
            let due = self
                .waiting
                .as_ref()
                .map_or_else(Instant::now, |(due, _)| *due);
            if Instant::now() < due {
                self.sleep.as_mut().reset(due);
                ready!(self.sleep.as_mut().poll(cx));
            }
            match self.waiting.take().map(|(_, chunk)| chunk) {
                Some(Ok(bytes)) if bytes.is_empty() => self.ended = true,
                Some(Ok(bytes)) => self.current = Some((bytes, 0)),
                Some(Err(e)) => {
                    self.ended = true;
                    return Poll::Ready(Err(e));
                }
                None => {}
            }
        }
    }
}

impl Drop for Delayed {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl AsyncRead for MaybeDelayed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Delayed(d) => d.poll_read_delayed(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeDelayed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Delayed(d) => Pin::new(&mut d.write).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Delayed(d) => Pin::new(&mut d.write).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_close(cx),
            Self::Delayed(d) => Pin::new(&mut d.write).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    async fn pair(latency: Duration) -> (MaybeDelayed, MaybeDelayed) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialled, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let wrap = |s| MaybeDelayed::new(libp2p::tcp::tokio::TcpStream(s), latency);
        (wrap(dialled.unwrap()), wrap(accepted.unwrap().0))
    }

    /// Bytes arrive intact and in order, no sooner than the latency after they were sent, and the
    /// end of the stream arrives too.
    #[tokio::test]
    async fn reads_come_late_and_whole() {
        let latency = Duration::from_millis(80);
        let (mut a, mut b) = pair(latency).await;
        let sent = Instant::now();
        a.write_all(b"hello, far peer").await.unwrap();
        a.flush().await.unwrap();
        let mut got = vec![0u8; 15];
        b.read_exact(&mut got).await.unwrap();
        assert!(sent.elapsed() >= latency, "read after {:?}", sent.elapsed());
        assert_eq!(&got, b"hello, far peer");

        // Many chunks, read back in order.
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = async {
            a.write_all(&payload).await.unwrap();
            a.close().await.unwrap();
        };
        let mut back = Vec::new();
        let reader = b.read_to_end(&mut back);
        let (_, read) = tokio::join!(writer, reader);
        read.unwrap();
        assert_eq!(back, payload);
    }

    #[tokio::test]
    async fn no_latency_is_the_plain_stream() {
        let (a, _b) = pair(Duration::ZERO).await;
        assert!(matches!(a, MaybeDelayed::Plain(_)));
    }
}
