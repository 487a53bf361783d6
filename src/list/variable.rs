//! The variable `sift_list` defines: the value the zone holds for the key,
//! looked up under the zone's lock on each use.

use ngx_stream::{
    ComplexValue, DataVariable, Result, Session, VariableIndex, VariableValue, ZoneRef,
};

use crate::list::ListZoneKind;
use crate::module::Sift;

/// How the lookup key is computed for a session.
#[derive(Clone, Copy, Debug)]
pub enum ListKey {
    /// One variable (`$sift_ja4`, `$binary_remote_addr`): read directly.
    Variable(VariableIndex),
    /// Text with variables, built in the session's pool.
    Complex(ComplexValue),
}

pub struct ListVariable {
    pub zone: ZoneRef<ListZoneKind>,
    pub key: ListKey,
}

impl DataVariable for ListVariable {
    type Module = Sift;
    const NAME: &'static str = "sift_list variable";

    /// Empty when the key is empty or absent; else a copy of the value in
    /// the session's pool (the zone's bytes may change after the lock).
    fn get<'s>(&self, session: &Session<'s>) -> Result<VariableValue<'s>> {
        // Evaluated before the zone is locked: it may call other getters.
        let key = match &self.key {
            ListKey::Variable(index) => session.variable(*index).unwrap_or_default(),
            ListKey::Complex(value) => session.evaluate(value)?,
        };
        let Some(zone) = self.zone.data() else {
            return Ok(VariableValue::Bytes(&[]));
        };
        if key.is_empty() {
            return Ok(VariableValue::Bytes(&[]));
        }
        let now_ms = ngx_stream::time::wall_msec();
        let value = zone
            .with_table(|_, table| {
                table
                    .lookup(key, now_ms)
                    .map(|value| session.pool_copy(value))
            })
            .flatten()
            .transpose()?;
        Ok(VariableValue::Bytes(value.unwrap_or_default()))
    }
}
