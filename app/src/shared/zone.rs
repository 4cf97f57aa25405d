//! The one time zone every page shows times in: UTC (the default) or the browser's local zone,
//! chosen with the top bar's switch and kept in the `steward_tz` cookie, so the server renders
//! the same text the browser will (no zone mixing between SSR, hydration and typed-in ranges).
//! Every shown time carries its zone ("2026-11-24 05:00:00 UTC+01:00").

use crate::shared::format;

/// The cookie that carries the choice: `utc`, or `local:<minutes east of UTC>`.
pub const COOKIE: &str = "steward_tz";

/// A zone as a fixed offset (the browser refreshes the cookie's offset on every load, so a
/// daylight-saving change shows from the next page on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Zone {
    /// Minutes east of UTC; `None` is UTC itself.
    pub offset_min: Option<i32>,
}

/// The widest real offsets are −12:00 and +14:00.
const MAX_OFFSET_MIN: i32 = 14 * 60;

impl Zone {
    pub const UTC: Zone = Zone { offset_min: None };

    /// The zone a cookie value names; anything else is UTC.
    pub fn parse(value: &str) -> Zone {
        let offset = value
            .strip_prefix("local:")
            .and_then(|m| m.trim().parse::<i32>().ok())
            .filter(|m| m.abs() <= MAX_OFFSET_MIN);
        Zone { offset_min: offset }
    }

    /// The zone in a `Cookie:` header (or `document.cookie`).
    pub fn from_cookies(header: &str) -> Zone {
        header
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map_or(Zone::UTC, |(_, v)| Zone::parse(v))
    }

    fn shift_ms(self) -> i64 {
        i64::from(self.offset_min.unwrap_or(0)) * 60_000
    }

    /// `UTC` or `UTC+05:30`.
    pub fn label(self) -> String {
        match self.offset_min {
            None => "UTC".into(),
            Some(m) => format!(
                "UTC{}{:02}:{:02}",
                if m < 0 { '−' } else { '+' },
                m.abs() / 60,
                m.abs() % 60
            ),
        }
    }

    /// What the switch says: `UTC` or `local (UTC+01:00)`.
    pub fn name(self) -> String {
        match self.offset_min {
            None => "UTC".into(),
            Some(_) => format!("local ({})", self.label()),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` in this zone, without the zone.
    pub fn bare(self, ms: i64) -> String {
        format::utc_datetime(ms + self.shift_ms())
    }

    /// `YYYY-MM-DD HH:MM:SS ZONE`.
    pub fn datetime(self, ms: i64) -> String {
        format!("{} {}", self.bare(ms), self.label())
    }

    /// `YYYY-MM-DD` in this zone.
    pub fn date(self, ms: i64) -> String {
        self.bare(ms)[..10].to_string()
    }

    /// `HH:MM:SS.mmm` in this zone (a log line's time of day).
    pub fn time_ms(self, ms: i64) -> String {
        format::utc_time_ms(ms + self.shift_ms())
    }

    /// The offset to add to a UTC time to get this zone's wall clock, in ms.
    pub fn offset_ms(self) -> i64 {
        self.shift_ms()
    }

    /// A `datetime-local` input's value (`YYYY-MM-DDTHH:MM`, seconds optional) read in this
    /// zone, as ms since the epoch.
    pub fn parse_input(self, value: &str) -> Option<i64> {
        let (date, time) = value.trim().split_once('T')?;
        let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
        let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
        let mut t = time.splitn(3, ':');
        let h: i64 = t.next()?.parse().ok()?;
        let mi: i64 = t.next()?.parse().ok()?;
        let s: f64 = t.next().map_or(Some(0.0), |s| s.parse().ok())?;
        if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s >= 60.0 {
            return None;
        }
        // Days from the civil date (Howard Hinnant's days_from_civil).
        let y = if mo <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + da - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let wall = days * 86_400_000 + h * 3_600_000 + mi * 60_000 + (s * 1000.0) as i64;
        Some(wall - self.shift_ms())
    }
}

/// The zone the request asked for (its cookie), or the browser's cookie once hydrated.
pub fn page_zone() -> Zone {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|p| {
                p.headers
                    .get(http::header::COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .map(Zone::from_cookies)
            })
            .unwrap_or_default()
    }
    #[cfg(feature = "hydrate")]
    {
        let cookies = js_sys::Reflect::get(&leptos::prelude::document(), &"cookie".into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default();
        Zone::from_cookies(&cookies)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    Zone::UTC
}

/// The zone of the page being rendered (from context; UTC outside a page).
pub fn use_zone() -> Zone {
    leptos::prelude::use_context::<Zone>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_name_the_zone_and_bad_values_are_utc() {
        assert_eq!(
            Zone::from_cookies("a=b; steward_tz=local:60"),
            Zone {
                offset_min: Some(60)
            }
        );
        assert_eq!(
            Zone::from_cookies("steward_tz=local:-330"),
            Zone {
                offset_min: Some(-330)
            }
        );
        assert_eq!(Zone::from_cookies("steward_tz=utc"), Zone::UTC);
        assert_eq!(Zone::from_cookies("steward_tz=local:9999"), Zone::UTC);
        assert_eq!(Zone::from_cookies(""), Zone::UTC);
    }

    #[test]
    fn every_time_says_its_zone() {
        let cet = Zone {
            offset_min: Some(60),
        };
        assert_eq!(Zone::UTC.datetime(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(cet.datetime(0), "1970-01-01 01:00:00 UTC+01:00");
        assert_eq!(
            Zone {
                offset_min: Some(-330)
            }
            .label(),
            "UTC−05:30"
        );
        assert_eq!(cet.time_ms(1_500), "01:00:01.500");
        assert_eq!(cet.name(), "local (UTC+01:00)");
    }

    #[test]
    fn typed_ranges_are_read_in_the_same_zone_they_are_shown_in() {
        let cet = Zone {
            offset_min: Some(60),
        };
        assert_eq!(Zone::UTC.parse_input("1970-01-01T01:00"), Some(3_600_000));
        assert_eq!(cet.parse_input("1970-01-01T01:00"), Some(0));
        assert_eq!(
            Zone::UTC.parse_input("2000-02-29T00:00:30"),
            Some(951_782_430_000)
        );
        for back in [0, 951_782_400_000, 1_795_386_774_000] {
            let shown = cet.bare(back).replace(' ', "T");
            assert_eq!(cet.parse_input(&shown), Some(back), "{shown}");
        }
        assert_eq!(Zone::UTC.parse_input("2026-13-01T00:00"), None);
        assert_eq!(Zone::UTC.parse_input("nonsense"), None);
    }
}
