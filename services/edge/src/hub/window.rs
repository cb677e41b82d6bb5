//! A build's newest frames, kept by its feed so that viewers resuming inside them (a
//! reconnect storm) cost no read of the log. What it covers is explicit: every event of the
//! build after [`Window::from`] is in it, as the log said when the feed filled it (the log's
//! `complete`), never guessed from what the first event is.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::frame::Frame;
use crate::log::Since;

/// The frames and what they cover.
#[derive(Debug)]
pub struct Window {
    frames: VecDeque<Arc<Frame>>,
    /// Every event of the build after this sequence is in `frames`.
    from: u64,
    /// Most frames kept.
    len: usize,
}

impl Window {
    /// A window of at most `len` frames over the log's answer to "everything after 0": all
    /// of it when nothing is missing, else only from its first held event on (whose own
    /// cursor is then still held).
    pub fn filled(read: Since, len: usize) -> Window {
        let Since {
            frames,
            position,
            complete,
        } = read;
        let from = match (complete, frames.first()) {
            (true, _) => 0,
            (false, Some(first)) => first.seq,
            (false, None) => position.map_or(0, |p| p.seq),
        };
        let mut window = Window {
            frames: VecDeque::with_capacity(frames.len().min(len)),
            from,
            len,
        };
        for frame in frames {
            window.push(frame);
        }
        window
    }

    /// Appends the build's next frame, dropping the oldest past the length.
    pub fn push(&mut self, frame: Arc<Frame>) {
        self.frames.push_back(frame);
        if self.frames.len() > self.len
            && let Some(dropped) = self.frames.pop_front()
        {
            self.from = dropped.seq;
        }
    }

    /// Every event after sequence `from` is here.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// The newest frame.
    pub fn last(&self) -> Option<&Arc<Frame>> {
        self.frames.back()
    }

    /// Every frame after `after`, when the window covers it (`None`: read the log). It
    /// covers its edge (`from`: the start, or an event it dropped) and every cursor from
    /// its first frame on; a cursor between the two is no event the window can vouch for
    /// (one purged before the window was filled, say), so the log decides.
    pub fn after(&self, after: u64) -> Option<Vec<Arc<Frame>>> {
        let below_first = self.frames.front().is_some_and(|first| after < first.seq);
        if after < self.from || (after > self.from && below_first) {
            return None;
        }
        let start = self.frames.partition_point(|f| f.seq <= after);
        Some(self.frames.range(start..).cloned().collect())
    }

    /// Forgets every frame: the log lost events the window never had, so only what comes
    /// from `head` on is covered.
    pub fn restart(&mut self, head: u64) {
        self.frames.clear();
        self.from = head;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Position;

    fn frame(seq: u64) -> Arc<Frame> {
        Frame::decode(seq, None, None, b"{}").shared()
    }

    fn since(seqs: &[u64], complete: bool) -> Since {
        Since {
            frames: seqs.iter().map(|s| frame(*s)).collect(),
            position: seqs.last().map(|s| Position {
                seq: *s,
                ..Position::default()
            }),
            complete,
        }
    }

    fn seqs(frames: Option<Vec<Arc<Frame>>>) -> Option<Vec<u64>> {
        frames.map(|f| f.iter().map(|f| f.seq).collect())
    }

    #[test]
    fn a_complete_log_is_covered_from_the_start_until_frames_drop_off() {
        let mut window = Window::filled(since(&[3, 5, 9], true), 3);
        assert_eq!(seqs(window.after(0)), Some(vec![3, 5, 9]));
        assert_eq!(
            seqs(window.after(2)),
            None,
            "no event of the build: the log decides"
        );
        assert_eq!(seqs(window.after(4)), Some(vec![5, 9]));
        assert_eq!(seqs(window.after(9)), Some(vec![]));
        assert_eq!(
            seqs(window.after(12)),
            Some(vec![]),
            "ahead: live from here"
        );
        window.push(frame(11));
        assert_eq!(window.from(), 3, "the dropped frame is the edge");
        assert_eq!(seqs(window.after(2)), None, "before the edge: read the log");
        assert_eq!(
            seqs(window.after(4)),
            None,
            "between the edge and the first frame"
        );
        assert_eq!(seqs(window.after(3)), Some(vec![5, 9, 11]), "at the edge");
    }

    #[test]
    fn an_incomplete_log_is_covered_from_its_first_held_event() {
        let window = Window::filled(since(&[7, 8], false), 10);
        assert_eq!(
            seqs(window.after(6)),
            None,
            "a cursor whose events are gone"
        );
        assert_eq!(seqs(window.after(0)), None);
        assert_eq!(seqs(window.after(7)), Some(vec![8]));
        let long = Window::filled(since(&[1, 2, 3, 4], true), 2);
        assert_eq!(long.from(), 2);
        assert_eq!(seqs(long.after(2)), Some(vec![3, 4]));
    }
}
