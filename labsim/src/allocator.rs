//! The process's allocator: mimalloc, called through its plain entry
//! points (`mi_malloc`, `mi_realloc`) whenever the alignment asked for is
//! one every mimalloc block has anyway, and through the aligned ones
//! otherwise. The `mimalloc` crate's own allocator always takes the
//! aligned path (about 51 instructions an allocation on the Raft suite);
//! most of a simulation's allocations are small and word aligned.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment of every block mimalloc hands out: its size classes are
/// multiples of the word size, laid out from word-aligned page starts.
const WORD_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc as the global allocator (see the module comment).
pub struct Mimalloc;

/// Whether a block from the plain entry points is aligned enough.
fn plain(align: usize) -> bool {
    align <= WORD_ALIGN
}

/// Whether `block` starts at a multiple of `align`.
fn aligned<T>(block: *mut T, align: usize) -> bool {
    (block as usize).is_multiple_of(align)
}

/// A new block for `layout` from mimalloc's `plain_entry` when every block
/// is aligned enough, else from its `aligned_entry`.
///
/// # Safety
/// The two entries are mimalloc's (zeroing or not) allocation functions.
unsafe fn allocate(
    layout: Layout,
    plain_entry: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_entry: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: the caller passes mimalloc's functions, which take any size
    // and any power-of-two alignment.
    let block = unsafe {
        if plain(layout.align()) {
            plain_entry(layout.size())
        } else {
            aligned_entry(layout.size(), layout.align())
        }
    };
    debug_assert!(aligned(block, layout.align()), "mimalloc returned a misaligned block");
    block.cast()
}

// SAFETY: every method forwards to mimalloc, which returns blocks of at
// least the size asked for, aligned as asked (the plain entry points only
// for alignments every block has), or null when out of memory; `dealloc`
// and `realloc` receive only pointers these methods returned.
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation functions accept any size.
        unsafe { allocate(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { allocate(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from one of mimalloc's allocation functions,
        // which `mi_free` takes whatever their alignment.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`'s alignment,
        // which the new block keeps.
        let block = unsafe {
            if plain(layout.align()) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size)
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align())
            }
        };
        debug_assert!(aligned(block, layout.align()), "mimalloc returned a misaligned block");
        block.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_every_alignment_are_aligned_and_keep_their_bytes() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 8, 24, 100, 4096, 100_000] {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: a non-zero size; the block is written within its
                // size, grown, read back and freed once with its layout.
                unsafe {
                    let block = Mimalloc.alloc(layout);
                    assert!(!block.is_null() && aligned(block, align), "size {size}, align {align}");
                    block.write_bytes(0xab, size);
                    let grown = Mimalloc.realloc(block, layout, size * 3);
                    assert!(!grown.is_null() && aligned(grown, align), "grown: size {size}, align {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xab), "realloc kept the bytes");
                    Mimalloc.dealloc(grown, Layout::from_size_align(size * 3, align).expect("valid"));
                    let zeroed = Mimalloc.alloc_zeroed(layout);
                    assert!(aligned(zeroed, align) && (0..size).all(|i| *zeroed.add(i) == 0));
                    Mimalloc.dealloc(zeroed, layout);
                }
            }
        }
    }
}
