//! The signed envelopes that travel between peers, and their verification.

use libp2p_identity::{Keypair, PeerId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    MAX_CLOCK_SKEW_MS, MAX_MARKET_UPDATE_BYTES, MAX_SIGNED_OFFER_BYTES,
    MAX_SIGNED_WITHDRAWAL_BYTES, MAX_TTL_MS, OFFER_SIGNING_TAG, Offer, OfferError,
    WITHDRAWAL_SIGNING_TAG, record_key, wire,
};

/// An offer as it travels and is stored: the canonical offer bytes, the maker's protobuf-encoded libp2p
/// public key, and its ed25519 signature over `OFFER_SIGNING_TAG || offer_bytes`. Unverified: anything
/// may be in it until [`SignedOffer::verify`] says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOffer {
    pub offer_bytes: Vec<u8>,
    pub maker_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// An offer that passed every check of [`SignedOffer::verify`] at some `now_ms`. Only verification
/// makes one. Expiry moves on: re-check [`VerifiedOffer::is_live`] before showing or taking it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedOffer {
    offer: Offer,
    signed: SignedOffer,
}

fn sign_payload(
    tag: &[u8],
    payload: &[u8],
    keypair: &Keypair,
) -> Result<(Vec<u8>, Vec<u8>), OfferError> {
    crate::signing::sign(tag, payload, keypair).map_err(OfferError::from)
}

fn check_signature(
    tag: &[u8],
    payload: &[u8],
    key_bytes: &[u8],
    signature: &[u8],
) -> Result<PeerId, OfferError> {
    crate::signing::verify(tag, payload, key_bytes, signature).map_err(OfferError::from)
}

fn check_size(size: usize, max: usize) -> Result<(), OfferError> {
    if size > max {
        Err(OfferError::TooLarge { size, max })
    } else {
        Ok(())
    }
}

impl SignedOffer {
    /// Validates `offer` (all rules but the clock's), checks `keypair` is its maker's, and signs it.
    pub fn sign(offer: &Offer, keypair: &Keypair) -> Result<Self, OfferError> {
        offer.validate()?;
        let signer = keypair.public().to_peer_id();
        if signer != offer.maker {
            return Err(OfferError::MakerKeyMismatch {
                maker: offer.maker.to_base58(),
                signer: signer.to_base58(),
            });
        }
        let offer_bytes = wire::encode_offer(offer)?;
        let (maker_key, signature) = sign_payload(OFFER_SIGNING_TAG, &offer_bytes, keypair)?;
        let signed = Self {
            offer_bytes,
            maker_key,
            signature,
        };
        check_size(signed.encoded_len(), MAX_SIGNED_OFFER_BYTES)?;
        Ok(signed)
    }

    /// The wire form: postcard of the three byte strings.
    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode_envelope(self.parts())
    }

    /// `self.to_bytes().len()`, without encoding.
    pub fn encoded_len(&self) -> usize {
        wire::envelope_len(self.parts())
    }

    fn parts(&self) -> [&[u8]; 3] {
        [&self.offer_bytes, &self.maker_key, &self.signature]
    }

    /// Decodes the envelope only (size first, then strict postcard). Nothing inside is checked yet.
    pub fn decode(bytes: &[u8]) -> Result<Self, OfferError> {
        check_size(bytes.len(), MAX_SIGNED_OFFER_BYTES)?;
        let signed: Self = wire::from_postcard(bytes, "signed offer")?;
        if signed.to_bytes() != bytes {
            return Err(OfferError::NonCanonical);
        }
        Ok(signed)
    }

    /// Everything a received offer must pass before it is stored, shown or forwarded: size (before
    /// decoding), strict canonical decoding, the signature, maker key ↔ `offer.maker`, the offer id ↔
    /// `expected_record_key` (when the offer was fetched from a DHT record), every content rule, and the
    /// expiry window at `now_ms`.
    pub fn verify(
        bytes: &[u8],
        now_ms: i64,
        expected_record_key: Option<&[u8]>,
    ) -> Result<VerifiedOffer, OfferError> {
        Self::decode(bytes)?.into_verified(now_ms, expected_record_key)
    }

    /// [`SignedOffer::verify`] for an envelope already decoded (e.g. out of a [`MarketUpdate`]).
    pub fn into_verified(
        self,
        now_ms: i64,
        expected_record_key: Option<&[u8]>,
    ) -> Result<VerifiedOffer, OfferError> {
        check_size(self.encoded_len(), MAX_SIGNED_OFFER_BYTES)?;
        let signer = check_signature(
            OFFER_SIGNING_TAG,
            &self.offer_bytes,
            &self.maker_key,
            &self.signature,
        )?;
        let offer = wire::decode_offer(&self.offer_bytes)?;
        if signer != offer.maker {
            return Err(OfferError::MakerKeyMismatch {
                maker: offer.maker.to_base58(),
                signer: signer.to_base58(),
            });
        }
        if let Some(expected) = expected_record_key
            && expected != offer.record_key().as_slice()
        {
            return Err(OfferError::RecordKeyMismatch { id: offer.id });
        }
        offer.validate()?;
        offer.check_time(now_ms)?;
        Ok(VerifiedOffer {
            offer,
            signed: self,
        })
    }
}

impl VerifiedOffer {
    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    /// The envelope exactly as verified: store and forward these bytes, never a re-signed copy.
    pub fn signed(&self) -> &SignedOffer {
        &self.signed
    }

    pub fn into_parts(self) -> (Offer, SignedOffer) {
        (self.offer, self.signed)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.signed.to_bytes()
    }

    pub fn id(&self) -> Uuid {
        self.offer.id
    }

    pub fn maker(&self) -> PeerId {
        self.offer.maker
    }

    pub fn record_key(&self) -> [u8; 32] {
        self.offer.record_key()
    }

    /// Still within its expiry window at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.offer.check_time(now_ms).is_ok()
    }

    /// `true` when `withdrawal` is a withdrawal of this very offer by its maker.
    pub fn is_withdrawn_by(&self, withdrawal: &VerifiedWithdrawal) -> bool {
        withdrawal.applies_to(self).is_ok()
    }
}

/// A maker's signed statement that an offer is no longer available (a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub offer_id: Uuid,
    pub maker: PeerId,
    pub withdrawn_at: i64,
}

impl Withdrawal {
    /// The withdrawal of `offer` at `now_ms` (never dated before the offer's creation).
    pub fn of(offer: &Offer, now_ms: i64) -> Self {
        Self {
            offer_id: offer.id,
            maker: offer.maker,
            withdrawn_at: now_ms.max(offer.created_at),
        }
    }

    fn validate(&self) -> Result<(), OfferError> {
        if self.offer_id.get_version_num() != 7
            || self.offer_id.get_variant() != uuid::Variant::RFC4122
        {
            return Err(OfferError::NotUuidV7 { id: self.offer_id });
        }
        Ok(())
    }

    /// Not from the future, and not so old that every offer it could withdraw has expired anyway.
    fn check_time(&self, now_ms: i64) -> Result<(), OfferError> {
        if self.withdrawn_at > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err(OfferError::WithdrawnInFuture {
                withdrawn_at: self.withdrawn_at,
                now: now_ms,
            });
        }
        if self.withdrawn_at < now_ms.saturating_sub(MAX_TTL_MS + MAX_CLOCK_SKEW_MS) {
            return Err(OfferError::WithdrawalStale {
                withdrawn_at: self.withdrawn_at,
                now: now_ms,
            });
        }
        Ok(())
    }
}

/// A withdrawal as it travels: same shape as [`SignedOffer`], signed over
/// `WITHDRAWAL_SIGNING_TAG || withdrawal_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedWithdrawal {
    pub withdrawal_bytes: Vec<u8>,
    pub maker_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A withdrawal that passed [`SignedWithdrawal::verify`]: signed by the maker it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWithdrawal {
    withdrawal: Withdrawal,
    signed: SignedWithdrawal,
}

impl SignedWithdrawal {
    pub fn sign(withdrawal: &Withdrawal, keypair: &Keypair) -> Result<Self, OfferError> {
        withdrawal.validate()?;
        let signer = keypair.public().to_peer_id();
        if signer != withdrawal.maker {
            return Err(OfferError::MakerKeyMismatch {
                maker: withdrawal.maker.to_base58(),
                signer: signer.to_base58(),
            });
        }
        let withdrawal_bytes = wire::encode_withdrawal(withdrawal)?;
        let (maker_key, signature) =
            sign_payload(WITHDRAWAL_SIGNING_TAG, &withdrawal_bytes, keypair)?;
        Ok(Self {
            withdrawal_bytes,
            maker_key,
            signature,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode_envelope(self.parts())
    }

    pub fn encoded_len(&self) -> usize {
        wire::envelope_len(self.parts())
    }

    fn parts(&self) -> [&[u8]; 3] {
        [&self.withdrawal_bytes, &self.maker_key, &self.signature]
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, OfferError> {
        check_size(bytes.len(), MAX_SIGNED_WITHDRAWAL_BYTES)?;
        let signed: Self = wire::from_postcard(bytes, "signed withdrawal")?;
        if signed.to_bytes() != bytes {
            return Err(OfferError::NonCanonical);
        }
        Ok(signed)
    }

    /// Size, strict decoding, signature, maker key ↔ `withdrawal.maker`, and the time window at `now_ms`.
    /// Whether it withdraws a given offer is [`VerifiedWithdrawal::applies_to`]'s question.
    pub fn verify(bytes: &[u8], now_ms: i64) -> Result<VerifiedWithdrawal, OfferError> {
        Self::decode(bytes)?.into_verified(now_ms)
    }

    pub fn into_verified(self, now_ms: i64) -> Result<VerifiedWithdrawal, OfferError> {
        check_size(self.encoded_len(), MAX_SIGNED_WITHDRAWAL_BYTES)?;
        let signer = check_signature(
            WITHDRAWAL_SIGNING_TAG,
            &self.withdrawal_bytes,
            &self.maker_key,
            &self.signature,
        )?;
        let withdrawal = wire::decode_withdrawal(&self.withdrawal_bytes)?;
        if signer != withdrawal.maker {
            return Err(OfferError::MakerKeyMismatch {
                maker: withdrawal.maker.to_base58(),
                signer: signer.to_base58(),
            });
        }
        withdrawal.validate()?;
        withdrawal.check_time(now_ms)?;
        Ok(VerifiedWithdrawal {
            withdrawal,
            signed: self,
        })
    }
}

impl VerifiedWithdrawal {
    pub fn withdrawal(&self) -> &Withdrawal {
        &self.withdrawal
    }

    pub fn signed(&self) -> &SignedWithdrawal {
        &self.signed
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.signed.to_bytes()
    }

    /// The record key of the offer it withdraws.
    pub fn record_key(&self) -> [u8; 32] {
        record_key(&self.withdrawal.offer_id)
    }

    /// `Ok` when this withdraws `offer`: same offer id, signed by that offer's maker.
    pub fn applies_to(&self, offer: &VerifiedOffer) -> Result<(), OfferError> {
        let offer = offer.offer();
        if self.withdrawal.offer_id != offer.id {
            return Err(OfferError::WithdrawalOfferMismatch {
                offer: offer.id,
                withdrawal: self.withdrawal.offer_id,
            });
        }
        if self.withdrawal.maker != offer.maker {
            return Err(OfferError::WithdrawalNotByMaker {
                maker: offer.maker.to_base58(),
                withdrawer: self.withdrawal.maker.to_base58(),
            });
        }
        Ok(())
    }
}

/// What a market's gossipsub topic carries: a new (or republished) offer, or a withdrawal.
/// On the wire: postcard, a one-byte variant tag (0 offer, 1 withdrawal) then the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarketUpdate {
    Offer(SignedOffer),
    Withdrawal(SignedWithdrawal),
}

/// A [`MarketUpdate`] whose content passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedMarketUpdate {
    Offer(VerifiedOffer),
    Withdrawal(VerifiedWithdrawal),
}

impl MarketUpdate {
    pub fn to_bytes(&self) -> Vec<u8> {
        let (tag, body) = match self {
            Self::Offer(o) => (0u8, o.to_bytes()),
            Self::Withdrawal(w) => (1u8, w.to_bytes()),
        };
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(tag);
        out.extend_from_slice(&body);
        out
    }

    /// Size first (at most [`MAX_MARKET_UPDATE_BYTES`]), then strict canonical postcard.
    pub fn decode(bytes: &[u8]) -> Result<Self, OfferError> {
        check_size(bytes.len(), MAX_MARKET_UPDATE_BYTES)?;
        let update: Self = wire::from_postcard(bytes, "market update")?;
        if update.to_bytes() != bytes {
            return Err(OfferError::NonCanonical);
        }
        Ok(update)
    }

    /// Decodes and fully verifies a gossip message (see [`SignedOffer::verify`] and
    /// [`SignedWithdrawal::verify`]). The caller still checks that an offer belongs to the topic it
    /// arrived on (`offer.market_topic()`).
    pub fn verify(bytes: &[u8], now_ms: i64) -> Result<VerifiedMarketUpdate, OfferError> {
        Ok(match Self::decode(bytes)? {
            Self::Offer(o) => VerifiedMarketUpdate::Offer(o.into_verified(now_ms, None)?),
            Self::Withdrawal(w) => VerifiedMarketUpdate::Withdrawal(w.into_verified(now_ms)?),
        })
    }
}
