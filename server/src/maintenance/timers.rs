//! systemd timers: pure parsing of `.timer` unit files, and `OnCalendar=` turned into a cron
//! schedule where systemd's calendar form has one (the shorthands and `[DOW] *-*-* HH:MM[:SS]`);
//! other forms are shown as written, with no next run.

/// What a timer unit says.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TimerUnit {
    pub description: Option<String>,
    /// `OnCalendar=` values (a timer may have several; the first is used).
    pub on_calendar: Vec<String>,
    /// Monotonic triggers (`OnBootSec=`, `OnUnitActiveSec=`…), shown as written.
    pub monotonic: Vec<String>,
    /// The unit it starts (`Unit=`, else the timer's own name with `.service`).
    pub unit: Option<String>,
}

/// Parses a unit file's `[Unit]` description and `[Timer]` section.
pub fn parse(text: &str) -> TimerUnit {
    let mut t = TimerUnit::default();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim().to_string());
        match (section.as_str(), key) {
            ("Unit", "Description") => t.description = Some(value),
            ("Timer", "OnCalendar") if !value.is_empty() => t.on_calendar.push(value),
            ("Timer", "Unit") => t.unit = Some(value),
            ("Timer", k) if k.starts_with("On") && k.ends_with("Sec") => {
                t.monotonic.push(format!("{k}={value}"))
            }
            _ => {}
        }
    }
    t
}

/// A cron schedule equal to a systemd calendar expression, where one exists.
pub fn calendar_to_cron(spec: &str) -> Option<String> {
    let s = spec.trim();
    let shorthand = match s.to_ascii_lowercase().as_str() {
        "minutely" => Some("* * * * *"),
        "hourly" => Some("0 * * * *"),
        "daily" => Some("0 0 * * *"),
        // systemd's week starts on Monday.
        "weekly" => Some("0 0 * * 1"),
        "monthly" => Some("0 0 1 * *"),
        "quarterly" => Some("0 0 1 1,4,7,10 *"),
        "semiannually" => Some("0 0 1 1,7 *"),
        "yearly" | "annually" => Some("0 0 1 1 *"),
        _ => None,
    };
    if let Some(c) = shorthand {
        return Some(c.into());
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (dow, date, time) = match parts.as_slice() {
        [date, time] => ("*".to_string(), *date, *time),
        [dow, date, time] => (weekdays(dow)?, *date, *time),
        _ => return None,
    };
    if date != "*-*-*" {
        return None;
    }
    let mut hms = time.split(':');
    let (h, m) = (hms.next()?, hms.next()?);
    if hms.next().is_some_and(|sec| sec != "00" && sec != "0") {
        return None;
    }
    let numeric = |f: &str| f == "*" || f.split(',').all(|x| x.parse::<u8>().is_ok());
    (numeric(h) && numeric(m)).then(|| {
        let trim = |f: &str| {
            f.split(',')
                .map(|x| x.trim_start_matches('0').to_string())
                .map(|x| if x.is_empty() { "0".into() } else { x })
                .collect::<Vec<_>>()
                .join(",")
        };
        let f = |x: &str| if x == "*" { "*".to_string() } else { trim(x) };
        format!("{} {} * * {dow}", f(m), f(h))
    })
}

/// systemd weekday lists (`Mon`, `Mon..Fri`, `Sat,Sun`) as cron's.
fn weekdays(spec: &str) -> Option<String> {
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let day = |d: &str| {
        let d = d.to_ascii_lowercase();
        DAYS.iter().position(|x| d.starts_with(x))
    };
    spec.split(',')
        .map(|part| match part.split_once("..") {
            Some((a, b)) => Some(format!("{}-{}", day(a)?, day(b)?)),
            None => day(part).map(|d| d.to_string()),
        })
        .collect::<Option<Vec<_>>>()
        .map(|v| v.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_timer_unit() {
        let t = parse(
            "[Unit]\nDescription=Daily apt download activities\n\n[Timer]\nOnCalendar=*-*-* 6,18:00\nRandomizedDelaySec=12h\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        );
        assert_eq!(
            t.description.as_deref(),
            Some("Daily apt download activities")
        );
        assert_eq!(t.on_calendar, vec!["*-*-* 6,18:00"]);
        assert!(t.monotonic.is_empty(), "a delay is not a trigger");
        let t = parse("[Timer]\nOnBootSec=15min\nOnUnitActiveSec=1d\nUnit=x.service\n");
        assert!(t.on_calendar.is_empty());
        assert_eq!(t.monotonic.len(), 2);
        assert_eq!(t.unit.as_deref(), Some("x.service"));
    }

    #[test]
    fn calendar_forms_that_map_to_cron() {
        assert_eq!(calendar_to_cron("daily").as_deref(), Some("0 0 * * *"));
        assert_eq!(calendar_to_cron("weekly").as_deref(), Some("0 0 * * 1"));
        assert_eq!(
            calendar_to_cron("*-*-* 06:40:00").as_deref(),
            Some("40 6 * * *")
        );
        assert_eq!(
            calendar_to_cron("*-*-* 6,18:00").as_deref(),
            Some("0 6,18 * * *")
        );
        assert_eq!(
            calendar_to_cron("Mon..Fri *-*-* 03:15").as_deref(),
            Some("15 3 * * 1-5")
        );
        assert_eq!(
            calendar_to_cron("Sat,Sun *-*-* 00:00:00").as_deref(),
            Some("0 0 * * 6,0")
        );
        assert_eq!(calendar_to_cron("*-*-01 00:00:00"), None);
        assert_eq!(calendar_to_cron("*-*-* *:00/15:00"), None);
        assert_eq!(calendar_to_cron("*-*-* 06:40:30"), None);
    }
}
