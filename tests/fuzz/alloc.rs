//! A counting global allocator, installed in this test binary only: it measures the peak heap
//! a closure allocates on the calling thread. Counting is per thread, so the targets running in
//! parallel (and the test harness's own threads) do not disturb one another's measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

thread_local! {
    /// Whether this thread is being measured. Const-initialised: reading it never allocates.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated minus bytes freed on this thread since the measurement began; frees of
    /// blocks allocated before it make it negative, which is why it is signed.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The highest `LIVE` reached.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    // `try_with`: the allocator also runs while a thread's locals are being torn down.
    let _ = ACTIVE.try_with(|active| {
        if active.get() {
            let live = LIVE.get() + delta;
            LIVE.set(live);
            if live > PEAK.get() {
                PEAK.set(live);
            }
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as a new block before the old one is freed: a moving realloc briefly
            // holds both, and an in-place one is rare enough not to matter for a bound.
            record(new_size as isize);
            record(-(layout.size() as isize));
        }
        p
    }
}

/// Ends the measurement even when the measured closure panics.
struct Stop;

impl Drop for Stop {
    fn drop(&mut self) {
        ACTIVE.set(false);
    }
}

/// Runs `f`, returning its value and the peak bytes it held allocated at once on this thread
/// (blocks it returns count while they are alive; what it frees of older blocks is not credited).
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.set(0);
    PEAK.set(0);
    ACTIVE.set(true);
    let stop = Stop;
    let value = f();
    drop(stop);
    (value, PEAK.get().max(0) as usize)
}

#[test]
fn the_allocator_counts_a_closures_peak_on_its_own_thread() {
    let ((), peak) = peak_during(|| {
        let a = vec![0u8; 1000];
        let b = vec![0u8; 500];
        drop(a);
        let c = vec![0u8; 200];
        drop((b, c));
    });
    assert_eq!(peak, 1500);
    let other = std::thread::spawn(|| peak_during(|| vec![0u8; 64]).1);
    let ((), mine) = peak_during(|| {
        let _ = vec![0u8; 100];
    });
    assert_eq!((other.join().unwrap(), mine), (64, 100));
}
