//! A value in a session's pool that the module may free before the session
//! ends (large scratch state, e.g. a reassembly buffer needed only until a
//! decision).

use core::marker::PhantomData;
use core::mem;
use core::ptr::{self, NonNull};

use nginx_sys::{ngx_pool_cleanup_t, NGX_ALIGNMENT};

use crate::error::{Error, Result};
use crate::module::{add_drop_cleanup_raw, Registered};
use crate::session::Session;

/// A `T` in a session's pool, owned by this handle (neither `Copy` nor
/// `Clone`). Reached mutably through `&mut self`, so keep it in a
/// `RefCell` in the session state. The value has its own aligned block
/// from the pool, given back by [`PoolBox::free`] (which drops it); if
/// the session ends first, the pool drops and frees it.
pub struct PoolBox<T> {
    value: NonNull<T>,
    /// The pool cleanup that drops the value if the session ends first.
    cleanup: *mut ngx_pool_cleanup_t,
    connection: u64,
    _owns: PhantomData<T>,
}

impl<T> core::fmt::Debug for PoolBox<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PoolBox")
            .field("size", &mem::size_of::<T>())
            .finish()
    }
}

impl<'s> Session<'s> {
    /// Moves `value` into a block of its own in the session's pool
    /// (aligned as `T` needs, which a plain pool allocation is not beyond
    /// 8 bytes).
    pub fn pool_box<M: Registered, T>(&self, value: T) -> Result<PoolBox<T>> {
        // SAFETY: a live session's connection has a pool.
        let pool = unsafe { (*(*self.as_ptr()).connection).pool };
        let align = mem::align_of::<T>().max(NGX_ALIGNMENT);
        // ngx_pmemalign gives a block of its own, which ngx_pfree frees.
        // SAFETY: the pool is live.
        let block = unsafe { nginx_sys::ngx_pmemalign(pool, mem::size_of::<T>().max(1), align) };
        let value_ptr = NonNull::new(block as *mut T).ok_or(Error::NoMemory)?;
        // SAFETY: the block is fresh, sized and aligned for T.
        unsafe { ptr::write(value_ptr.as_ptr(), value) };
        let mut cleanup = ptr::null_mut();
        if mem::needs_drop::<T>() {
            // SAFETY: `value_ptr` holds an initialised T in `pool`.
            match unsafe { add_drop_cleanup_raw::<M, T>(pool, value_ptr) } {
                Ok(added) => cleanup = added,
                Err(error) => {
                    // SAFETY: ours, initialised, seen by nobody.
                    unsafe { ptr::drop_in_place(value_ptr.as_ptr()) };
                    return Err(error);
                }
            }
        }
        Ok(PoolBox {
            value: value_ptr,
            cleanup,
            connection: self.connection_number(),
            _owns: PhantomData,
        })
    }
}

impl<T> PoolBox<T> {
    /// The value, for a callback of the session that made it (None in
    /// another session's).
    pub fn get_mut<'a>(&'a mut self, session: &Session<'_>) -> Option<&'a mut T> {
        if self.connection != session.connection_number() {
            return None;
        }
        // Made by pool_box in this session (connection numbers are
        // unique), alive until the session's pool goes or free() runs,
        // which consumes the one handle; `&mut self` makes this borrow
        // the only one.
        // SAFETY: so it is live and unaliased for 'a.
        Some(unsafe { self.value.as_mut() })
    }

    /// Drops the value and gives its memory back to the pool now.
    pub fn free(self, session: &Session<'_>) {
        if self.connection != session.connection_number() {
            return;
        }
        // The handle is consumed, so nothing reaches the value again; the
        // pool's cleanup is disarmed (nginx skips cleanups without a
        // handler) so it is not dropped twice; ngx_pfree frees the block
        // ngx_pmemalign made.
        // SAFETY: the value and cleanup belong to this session's pool.
        unsafe {
            if !self.cleanup.is_null() {
                (*self.cleanup).handler = None;
            }
            ptr::drop_in_place(self.value.as_ptr());
            nginx_sys::ngx_pfree(
                (*(*session.as_ptr()).connection).pool,
                self.value.as_ptr().cast(),
            );
        }
    }
}
