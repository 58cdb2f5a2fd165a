//! When freed memory goes back to the system: at once, or after the
//! allocator's short delay, keeping it for reuse meanwhile (faster: memory
//! given back and taken again costs a page fault per page).
//!
//! A replay holds a log line of tens of megabytes now and then (a large
//! run's `suite_start`): while it does, memory freed goes back at once, so
//! that the line's size is the replay's peak and not added to what the
//! allocator keeps. The binary, which chose the allocator, installs how to
//! switch ([`install`]); the library says when ([`EagerRelease`]).

use std::sync::{Mutex, OnceLock};

static SWITCH: OnceLock<fn(bool)> = OnceLock::new();

static EAGER: Holders = Holders::new();

/// Installs `switch`, which makes the allocator give memory back at once
/// (`true`) or as it does by default (`false`). Called once, by the binary.
pub fn install(switch: fn(bool)) {
    let _ = SWITCH.set(switch);
}

/// While one of these is alive, memory freed goes back to the system at
/// once.
#[derive(Debug)]
pub struct EagerRelease(());

impl EagerRelease {
    pub fn new() -> EagerRelease {
        EAGER.enter(SWITCH.get().copied());
        EagerRelease(())
    }
}

impl Default for EagerRelease {
    fn default() -> Self {
        EagerRelease::new()
    }
}

impl Drop for EagerRelease {
    fn drop(&mut self) {
        EAGER.leave(SWITCH.get().copied());
    }
}

/// How many holders there are; the switch is thrown as the first comes and
/// the last goes (under the lock, so that the two cannot cross).
struct Holders(Mutex<usize>);

impl Holders {
    const fn new() -> Holders {
        Holders(Mutex::new(0))
    }

    fn enter(&self, switch: Option<fn(bool)>) {
        let mut n = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *n == 0 {
            if let Some(switch) = switch {
                switch(true);
            }
        }
        *n += 1;
    }

    fn leave(&self, switch: Option<fn(bool)>) {
        let mut n = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            if let Some(switch) = switch {
                switch(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    static STATE: AtomicBool = AtomicBool::new(false);

    #[test]
    fn eager_while_any_holder_is_alive() {
        let holders = Holders::new();
        let switch: fn(bool) = |eager| STATE.store(eager, Ordering::SeqCst);
        holders.enter(Some(switch));
        assert!(STATE.load(Ordering::SeqCst));
        holders.enter(Some(switch));
        holders.leave(Some(switch));
        assert!(STATE.load(Ordering::SeqCst), "one holder is still alive");
        holders.leave(Some(switch));
        assert!(!STATE.load(Ordering::SeqCst));
    }
}
