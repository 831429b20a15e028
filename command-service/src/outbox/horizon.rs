//! Writer horizons: the promise each writer makes about its commit positions, and the relay's
//! safe upper bound derived from them (../shared/RELAY.md, "Writer" and "Relay").
//!
//! Owns the pure arithmetic only: [`WriterPositions`] (draw a position, resolve it, report the
//! horizon) and [`relay_bound`] (the lowest live horizon). Must not depend on MongoDB, Kafka or a
//! clock: callers pass `now`, so the rules are tested against simulated stores.
//!
//! Why: positions are drawn from a clock before the insert, so a lower position can become visible
//! after a higher one. A relay that checkpoints positions needs to know below which point nothing
//! can still appear. A writer's horizon `h` says: every commit of mine at or below `h` is already
//! acknowledged, and every position I draw from now on is above `h`.

use std::collections::BTreeMap;

/// The positions one writer (one command-service process) has drawn and not yet resolved.
///
/// Drawing and registering happen under one `&mut self`, so a horizon can never be computed
/// between the two (the caller keeps this behind a mutex).
#[derive(Debug, Default, Clone)]
pub struct WriterPositions {
    /// Drawn positions whose insert is neither acknowledged nor refused as a duplicate, with how
    /// many inserts use each (a retry of the same `_id` counts once more until resolved).
    in_flight: BTreeMap<i64, usize>,
    /// The largest position drawn so far.
    last_drawn: i64,
    /// The largest horizon reported so far; every later draw is above it, even if the clock goes
    /// back.
    last_horizon: i64,
}

impl WriterPositions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Draws a position for a commit that must sort after `after` (the stream's previous commit)
    /// and registers it as in flight. `now` is the clock in the positions' unit.
    pub fn draw(&mut self, after: i64, now: i64) -> i64 {
        let position = now
            .max(after.saturating_add(1))
            .max(self.last_drawn.saturating_add(1))
            .max(self.last_horizon.saturating_add(1));
        self.last_drawn = position;
        *self.in_flight.entry(position).or_insert(0) += 1;
        position
    }

    /// The insert of `position` was acknowledged, or refused because the key exists (a lost
    /// race). A timeout or a network error is NOT a resolution: the caller retries the same `_id`.
    pub fn resolve(&mut self, position: i64) {
        if let Some(count) = self.in_flight.get_mut(&position) {
            *count -= 1;
            if *count == 0 {
                self.in_flight.remove(&position);
            }
        }
    }

    /// Whether any insert is unresolved.
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// The horizon to publish now: with inserts in flight, just below the oldest of them;
    /// otherwise the largest position drawn, raised to `now` so an idle writer's horizon moves.
    /// Never lower than a horizon reported before.
    pub fn horizon(&mut self, now: i64) -> i64 {
        let h = match self.in_flight.first_key_value() {
            Some((oldest, _)) => oldest - 1,
            None => self.last_drawn.max(now),
        };
        self.last_horizon = self.last_horizon.max(h);
        self.last_horizon
    }
}

/// One writer's horizon as the relay sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedHorizon {
    pub horizon: i64,
    /// Until when the writer's lease is live, in the positions' unit.
    pub lease_until: i64,
}

/// The relay's bound H: the lowest horizon among writers that may still insert. A writer whose
/// lease ran out keeps its last horizon for `grace` more (lease TTL plus the worst insert time),
/// then drops out. `None` when no writer counts (then nothing new can appear: the caller scans to
/// the end of what it sees, up to its own clock).
pub fn relay_bound(writers: &[PublishedHorizon], now: i64, grace: i64) -> Option<i64> {
    writers
        .iter()
        .filter(|w| w.lease_until.saturating_add(grace) >= now)
        .map(|w| w.horizon)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_writer_moves_with_the_clock_and_never_back() {
        let mut writer = WriterPositions::new();
        assert_eq!(writer.horizon(100), 100);
        assert_eq!(
            writer.horizon(50),
            100,
            "a clock going back does not lower h"
        );
        let p = writer.draw(0, 60);
        assert!(p > 100, "a draw stays above every horizon reported: {p}");
        assert_eq!(writer.horizon(200), p - 1);
        writer.resolve(p);
        assert_eq!(writer.horizon(200), 200);
    }

    #[test]
    fn the_oldest_insert_in_flight_holds_the_horizon() {
        let mut writer = WriterPositions::new();
        let a = writer.draw(0, 10);
        let b = writer.draw(0, 11);
        writer.resolve(b);
        assert_eq!(writer.horizon(50), a - 1, "b is done, but a may still land");
        writer.resolve(a);
        assert_eq!(writer.horizon(50), 50);
    }

    #[test]
    fn draws_follow_the_stream_and_each_other() {
        let mut writer = WriterPositions::new();
        assert_eq!(writer.draw(500, 10), 501);
        assert_eq!(writer.draw(0, 10), 502);
    }

    #[test]
    fn expired_writers_count_for_a_grace_period_then_drop_out() {
        let live = PublishedHorizon {
            horizon: 90,
            lease_until: 1_000,
        };
        let stale = PublishedHorizon {
            horizon: 40,
            lease_until: 100,
        };
        assert_eq!(relay_bound(&[live, stale], 150, 100), Some(40));
        assert_eq!(relay_bound(&[live, stale], 201, 100), Some(90));
        assert_eq!(relay_bound(&[], 201, 100), None);
    }
}

/// The horizon arithmetic against a simulated store: writers with skewed clocks draw positions,
/// their inserts become visible after random delays (or lose a race on the stream's version), and
/// a relay scans `(checkpoint, H]` in position order and then moves its checkpoint to H itself,
/// which is stricter than the design's "last published". The oracle: every visible commit is
/// published, exactly once, and each stream's versions in order.
#[cfg(test)]
mod simulation {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    struct Insert {
        writer: usize,
        stream: usize,
        version: u64,
        position: i64,
        visible_at: i64,
    }

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Command {
            writer: usize,
            stream: usize,
            delay: i64,
        },
        Relay,
        Tick(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..3usize, 0..4usize, 0..40i64)
                .prop_map(|(writer, stream, delay)| Step::Command { writer, stream, delay }),
            2 => Just(Step::Relay),
            2 => (1..10i64).prop_map(Step::Tick),
        ]
    }

    struct World {
        now: i64,
        skew: Vec<i64>,
        writers: Vec<WriterPositions>,
        pending: Vec<Insert>,
        /// Visible commits by (position, writer): the store's scan order.
        visible: BTreeMap<(i64, usize), (usize, u64)>,
        /// Per stream: the last visible version and its position.
        heads: HashMap<usize, (u64, i64)>,
        checkpoint: i64,
        published: Vec<(usize, u64)>,
    }

    impl World {
        fn clock(&self, writer: usize) -> i64 {
            self.now + self.skew[writer]
        }

        fn command(&mut self, writer: usize, stream: usize, delay: i64) {
            let (version, after) = self.heads.get(&stream).copied().unwrap_or((0, 0));
            let now = self.clock(writer);
            let position = self.writers[writer].draw(after, now);
            self.pending.push(Insert {
                writer,
                stream,
                version: version + 1,
                position,
                visible_at: self.now + delay,
            });
        }

        fn land(&mut self, everything: bool) {
            let now = self.now;
            let (due, rest): (Vec<_>, Vec<_>) = self
                .pending
                .drain(..)
                .partition(|insert| everything || insert.visible_at <= now);
            self.pending = rest;
            for insert in due {
                let head = self.heads.get(&insert.stream).map_or(0, |h| h.0);
                // The unique (stream, version) index: a writer that read an older head loses.
                if insert.version == head + 1 {
                    self.visible.insert(
                        (insert.position, insert.writer),
                        (insert.stream, insert.version),
                    );
                    self.heads
                        .insert(insert.stream, (insert.version, insert.position));
                }
                self.writers[insert.writer].resolve(insert.position);
            }
        }

        fn relay(&mut self) {
            let horizons: Vec<PublishedHorizon> = (0..self.writers.len())
                .map(|w| {
                    let now = self.clock(w);
                    PublishedHorizon {
                        horizon: self.writers[w].horizon(now),
                        lease_until: i64::MAX,
                    }
                })
                .collect();
            let Some(bound) = relay_bound(&horizons, self.now, 0) else {
                return;
            };
            if bound <= self.checkpoint {
                return;
            }
            for (_, &(stream, version)) in self
                .visible
                .range((self.checkpoint + 1, 0)..=(bound, usize::MAX))
            {
                self.published.push((stream, version));
            }
            self.checkpoint = bound;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn nothing_is_lost_and_streams_stay_in_order(
            skew in proptest::collection::vec(-60i64..60, 3),
            steps in proptest::collection::vec(step(), 1..300),
        ) {
            let mut world = World {
                now: 1_000,
                skew,
                writers: vec![WriterPositions::new(); 3],
                pending: Vec::new(),
                visible: BTreeMap::new(),
                heads: HashMap::new(),
                checkpoint: 0,
                published: Vec::new(),
            };
            for step in steps {
                world.land(false);
                match step {
                    Step::Command { writer, stream, delay } => world.command(writer, stream, delay),
                    Step::Relay => world.relay(),
                    Step::Tick(by) => world.now += by,
                }
            }
            world.land(true);
            world.now += 1_000;
            world.relay();

            let mut seen: HashMap<usize, u64> = HashMap::new();
            for &(stream, version) in &world.published {
                let last = seen.insert(stream, version).unwrap_or(0);
                prop_assert_eq!(version, last + 1, "stream {} out of order", stream);
            }
            prop_assert_eq!(world.published.len(), world.visible.len(), "a visible commit was lost");
        }
    }
}
