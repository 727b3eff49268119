//! Money as whole fen (分): the contract's amounts are exact, so never floats.

use std::fmt;

use serde::{Serialize, Serializer};

/// An amount of renminbi in fen (1 yuan = 100 fen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    /// An amount of `fen`.
    pub const fn from_fen(fen: i64) -> Self {
        Self(fen)
    }

    /// The amount in fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Parse a yuan amount written as in the contract: digits, optionally a
    /// point and one or two decimals (`"250000.00"`, `"82714"`).
    pub fn parse_yuan(text: &str) -> Result<Self, String> {
        let bad = || format!("\"{text}\" is not an amount in yuan like \"250000.00\"");
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 15 {
            return Err(bad());
        }
        if frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (text.contains('.') && frac.is_empty())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
        Ok(Self(whole * 100 + frac))
    }

    /// The largest amount there is.
    pub const MAX: Self = Self(i64::MAX);

    /// The sum of `amounts`, or `None` when it would pass [`Money::MAX`] (or its negative).
    pub fn checked_sum(amounts: impl IntoIterator<Item = Self>) -> Option<Self> {
        amounts.into_iter().try_fold(Self(0), |sum, m| sum.0.checked_add(m.0).map(Self))
    }

    /// `percent` % of this amount, if it comes out in whole fen.
    pub fn percent(self, percent: u32) -> Option<Self> {
        let scaled = self.0.checked_mul(i64::from(percent))?;
        (scaled % 100 == 0).then_some(Self(scaled / 100))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        Self(iter.map(|m| m.0).sum())
    }
}

impl fmt::Display for Money {
    /// `8271400.00`: yuan with two decimals, as the contract prints amounts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contract_amounts() {
        assert_eq!(Money::parse_yuan("8271400.00"), Ok(Money::from_fen(827_140_000)));
        assert_eq!(Money::parse_yuan("82714"), Ok(Money::from_fen(8_271_400)));
        assert_eq!(Money::parse_yuan("0.5"), Ok(Money::from_fen(50)));
        for bad in ["", "1,000.00", "1.", ".5", "1.234", "-5.00", "¥100", "1e5"] {
            assert!(Money::parse_yuan(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(Money::from_fen(827_140_000).to_string(), "8271400.00");
        assert_eq!(Money::from_fen(827_140_000).percent(70), Some(Money::from_fen(578_998_000)));
        assert_eq!(Money::checked_sum([Money::from_fen(1), Money::from_fen(2)]), Some(Money::from_fen(3)));
        assert_eq!(Money::checked_sum([Money::MAX, Money::from_fen(1)]), None);
    }
}
