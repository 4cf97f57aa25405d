//! The `fleet alerts` lease seen round by round (pure). A replica judges the fleet's alerts
//! only once it has adopted what the last holder wrote: judging before would notify those
//! alerts again. An adoption that fails (the shared table unreadable) is tried again on the
//! next round, and the replica does not judge until it works.

#[derive(Debug, Default)]
pub struct Takeover {
    /// Judged last round, so the fleet's alerts in memory are the current ones.
    judged: bool,
}

impl Takeover {
    /// Whether this round must adopt the shared alerts before it may judge.
    pub fn must_adopt(&self, leads: bool) -> bool {
        leads && !self.judged
    }

    /// This round's verdict. `adopted` is the adoption's outcome when [`Takeover::must_adopt`]
    /// asked for one, `None` otherwise.
    pub fn judges(&mut self, leads: bool, adopted: Option<bool>) -> bool {
        let judging = leads && adopted.unwrap_or(!self.must_adopt(leads));
        self.judged = judging;
        judging
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One round as the alerts loop runs it: `adopt` answers the adoption when one is asked.
    fn round(t: &mut Takeover, leads: bool, adopt: bool) -> (bool, bool) {
        let asked = t.must_adopt(leads);
        (asked, t.judges(leads, asked.then_some(adopt)))
    }

    #[test]
    fn a_new_holder_adopts_once_then_judges() {
        let mut t = Takeover::default();
        assert_eq!(round(&mut t, true, true), (true, true));
        assert_eq!(round(&mut t, true, true), (false, true));
        assert_eq!(
            round(&mut t, true, false),
            (false, true),
            "no second adoption"
        );
    }

    #[test]
    fn a_failed_adoption_is_tried_again_and_nothing_is_judged_meanwhile() {
        let mut t = Takeover::default();
        assert_eq!(round(&mut t, true, false), (true, false));
        assert_eq!(round(&mut t, true, false), (true, false));
        assert_eq!(round(&mut t, true, true), (true, true));
        assert_eq!(round(&mut t, true, false), (false, true));
    }

    #[test]
    fn losing_the_lease_stops_judging_and_getting_it_back_adopts_again() {
        let mut t = Takeover::default();
        assert_eq!(round(&mut t, true, true), (true, true));
        assert_eq!(round(&mut t, false, true), (false, false));
        assert_eq!(round(&mut t, false, true), (false, false));
        assert_eq!(round(&mut t, true, true), (true, true));
    }

    #[test]
    fn a_verdict_without_the_asked_adoption_does_not_judge() {
        let mut t = Takeover::default();
        assert!(!t.judges(true, None));
    }
}
