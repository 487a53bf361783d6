//! Stream variables computed by Rust code.
//!
//! A module lists its variables in a [`VariableSet`] and adds them in
//! `preconfiguration` ([`Conf::add_variables`]) so `map`, `log_format`,
//! `proxy_pass $var` and the like can use them. Each lookup goes through one
//! `extern "C"` trampoline that finds the getter by index and contains
//! panics.

use nginx_sys::{
    ngx_int_t, ngx_str_t, ngx_stream_add_variable, ngx_stream_session_t,
    ngx_stream_variable_value_t, NGX_ERROR, NGX_OK,
};

use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::module::StreamModule;
use crate::session::Session;

/// A variable's value for one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariableValue<'s> {
    /// Bytes that live at least as long as the session (static or pool).
    Bytes(&'s [u8]),
    /// No value: `map` sees an empty string, `log_format` prints `-`.
    NotFound,
}

/// Computes a variable. An error fails the lookup: what nginx does then
/// depends on the user (`map` fails, a complex value such as `return`'s
/// text treats it as empty). A panic is contained, logged at `alert`, and
/// ends the session.
pub type Getter = for<'s> fn(&Session<'s>) -> Result<VariableValue<'s>>;

/// One variable.
pub struct VariableSpec {
    /// The name without `$`.
    pub name: &'static str,
    /// Computes the value.
    pub get: Getter,
    /// `NGX_STREAM_VAR_*` flags. Values that change while the session runs
    /// (e.g. known only after preread) need `NGX_STREAM_VAR_NOCACHEABLE`,
    /// or nginx would keep an early empty value; such getters cache in
    /// their own session state instead.
    pub flags: u32,
}

/// A module's variables.
pub trait VariableSet: 'static {
    /// The module they belong to.
    type Module: StreamModule;
    /// Every variable the set provides.
    const VARIABLES: &'static [VariableSpec];
}

impl Conf<'_> {
    /// Adds every variable of `S` (from `preconfiguration`).
    pub fn add_variables<S: VariableSet>(&self) -> Result<()> {
        for (index, spec) in S::VARIABLES.iter().enumerate() {
            let mut name = ngx_str_t {
                len: spec.name.len(),
                data: spec.name.as_ptr() as *mut u8,
            };
            // SAFETY: the conf is live; nginx copies the name into cf->pool.
            let var =
                // SAFETY: see the comment above this statement.
                unsafe { ngx_stream_add_variable(self.as_ptr(), &mut name, spec.flags as usize) };
            if var.is_null() {
                // nginx logs a conflicting definition itself.
                return Err(Error::Logged);
            }
            // SAFETY: var is the live variable entry just returned.
            unsafe {
                (*var).get_handler = Some(get_trampoline::<S>);
                (*var).data = index;
            }
        }
        Ok(())
    }
}

unsafe extern "C" fn get_trampoline<S: VariableSet>(
    s: *mut ngx_stream_session_t,
    v: *mut ngx_stream_variable_value_t,
    data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls variable getters with a live session.
    let Some(session) = (unsafe { Session::from_raw(s) }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let Some(spec) = S::VARIABLES.get(data) else {
        return NGX_ERROR as ngx_int_t;
    };
    let mut panicked = false;
    let value = contain(
        <S::Module as StreamModule>::NAME,
        session.log(),
        spec.name,
        || {
            panicked = true;
            Err(Error::Logged)
        },
        || (spec.get)(&session),
    );
    if panicked {
        // nginx treats a failed lookup inside a complex value (`return`,
        // `proxy_pass` with text around the variable) as an empty value and
        // carries on; a panic must end the session instead.
        session.abort_connection();
    }
    // SAFETY: nginx passes the value slot to fill, valid for this call.
    let v = unsafe { &mut *v };
    fill(v, value)
}

/// Writes a getter's result into nginx's value slot.
fn fill(v: &mut ngx_stream_variable_value_t, value: Result<VariableValue<'_>>) -> ngx_int_t {
    match value {
        Ok(VariableValue::Bytes(bytes)) => {
            // The len bitfield holds 28 bits; longer values are cut there.
            let len = bytes.len().min(LEN_MASK as usize);
            set_found(v, len as u32);
            v.data = bytes.as_ptr() as *mut u8;
            NGX_OK as ngx_int_t
        }
        Ok(VariableValue::NotFound) => {
            v.set_not_found(1);
            NGX_OK as ngx_int_t
        }
        Err(_) => NGX_ERROR as ngx_int_t,
    }
}

// `ngx_variable_value_t` starts with one 32-bit word of bitfields:
// `len:28, valid:1, no_cacheable:1, not_found:1, escape:1`. bindgen's
// setters write a field bit by bit (about 450 instructions for the four
// fields of a found value, on every lookup); on little-endian targets the
// word is written whole. The tests below check this layout against
// bindgen's own accessors.
const LEN_MASK: u32 = (1 << 28) - 1;
const VALID: u32 = 1 << 28;
const ESCAPE_SHIFT: u32 = 31;

/// `len`, valid, cacheable, found; `escape` kept.
#[cfg(target_endian = "little")]
fn set_found(v: &mut ngx_stream_variable_value_t, len: u32) {
    let word = (v.escape() << ESCAPE_SHIFT) | VALID | (len & LEN_MASK);
    v._bitfield_1 = nginx_sys::__BindgenBitfieldUnit::new(word.to_le_bytes());
}

#[cfg(not(target_endian = "little"))]
fn set_found(v: &mut ngx_stream_variable_value_t, len: u32) {
    v.set_len(len & LEN_MASK);
    v.set_valid(1);
    v.set_no_cacheable(0);
    v.set_not_found(0);
}

/// A variable a directive defines (as `map` does): its name comes from the
/// configuration and its getter gets the data the directive built.
pub trait DataVariable: 'static {
    /// The module it belongs to.
    type Module: StreamModule;
    /// Names the getter in logs (a panic's `alert` line).
    const NAME: &'static str;
    /// Computes the value for one session.
    fn get<'s>(&self, session: &Session<'s>) -> Result<VariableValue<'s>>;
}

impl Conf<'_> {
    /// Defines the variable `name` (without `$`) with `data` as its getter's
    /// state, kept in the configuration's pool for the cycle. `flags` are
    /// `NGX_STREAM_VAR_*` (`NGX_STREAM_VAR_CHANGEABLE` lets a later `map`
    /// or directive redefine it; without it nginx reports a duplicate).
    pub fn add_data_variable<V: DataVariable>(
        &self,
        name: &[u8],
        flags: u32,
        data: V,
    ) -> Result<()> {
        if name.is_empty() {
            return Err(Error::Invalid(String::from("empty variable name")));
        }
        let mut text = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: the conf is live; nginx copies the name into cf->pool.
        let var = unsafe { ngx_stream_add_variable(self.as_ptr(), &mut text, flags as usize) };
        if var.is_null() {
            // nginx logs a conflicting definition itself.
            return Err(Error::Logged);
        }
        // SAFETY: the conf pool lives as long as the cycle and its variables.
        let data = unsafe { crate::module::pool_allocate::<V::Module, V>(self.pool(), data) }?;
        // SAFETY: var is the live variable entry just returned.
        unsafe {
            (*var).get_handler = Some(data_get_trampoline::<V>);
            (*var).data = data.as_ptr() as usize;
        }
        Ok(())
    }
}

unsafe extern "C" fn data_get_trampoline<V: DataVariable>(
    s: *mut ngx_stream_session_t,
    v: *mut ngx_stream_variable_value_t,
    data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls variable getters with a live session.
    let Some(session) = (unsafe { Session::from_raw(s) }) else {
        return NGX_ERROR as ngx_int_t;
    };
    // `data` is the V that add_data_variable placed in the cycle's pool,
    // which outlives every session of the cycle; it is only read.
    // SAFETY: so it is null or a live V.
    let Some(state) = (unsafe { (data as *const V).as_ref() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let mut panicked = false;
    let value = contain(
        <V::Module as StreamModule>::NAME,
        session.log(),
        V::NAME,
        || {
            panicked = true;
            Err(Error::Logged)
        },
        || state.get(&session),
    );
    if panicked {
        // As in get_trampoline: a panic ends the session.
        session.abort_connection();
    }
    // SAFETY: nginx passes the value slot to fill, valid for this call.
    let v = unsafe { &mut *v };
    fill(v, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> ngx_stream_variable_value_t {
        // An all-zero value is nginx's own initial state (its variables
        // array is allocated zeroed), with a null data pointer.
        // SAFETY: so all-zero bytes are a valid ngx_variable_value_t.
        unsafe { core::mem::zeroed() }
    }

    /// The whole-word write agrees with bindgen's per-field accessors.
    #[test]
    fn bitfield_word_matches_bindgen_layout() {
        for len in [0u32, 1, 9, 36, 4095, LEN_MASK - 1, LEN_MASK] {
            for escape in [0, 1] {
                let mut v = value();
                v.set_escape(escape);
                v.set_not_found(1);
                v.set_no_cacheable(1);
                set_found(&mut v, len);
                assert_eq!(
                    (
                        v.len(),
                        v.valid(),
                        v.no_cacheable(),
                        v.not_found(),
                        v.escape()
                    ),
                    (len, 1, 0, 0, escape)
                );

                let mut expected = value();
                expected.set_len(len);
                expected.set_valid(1);
                expected.set_escape(escape);
                assert_eq!(v._bitfield_1, expected._bitfield_1);
            }
        }
    }

    #[test]
    fn fill_sets_found_and_not_found() {
        let text = b"t13d1516h2";
        let mut v = value();
        v.set_no_cacheable(1);
        assert_eq!(
            fill(&mut v, Ok(VariableValue::Bytes(text))),
            NGX_OK as ngx_int_t
        );
        assert_eq!(
            (v.len(), v.valid(), v.no_cacheable(), v.not_found()),
            (10, 1, 0, 0)
        );
        assert_eq!(v.data.cast_const(), text.as_ptr());

        let mut v = value();
        v.set_len(3);
        v.set_valid(1);
        assert_eq!(
            fill(&mut v, Ok(VariableValue::NotFound)),
            NGX_OK as ngx_int_t
        );
        assert_eq!((v.len(), v.valid(), v.not_found()), (3, 1, 1));
        assert_eq!(fill(&mut v, Err(Error::NoMemory)), NGX_ERROR as ngx_int_t);
    }
}
