//! Fuzzes the list state-file loader: `list::state::decode` on arbitrary
//! bytes, for both list types, never panics; what it accepts re-encodes to
//! a file that decodes to the same entries, and loads into a table (or is
//! refused whole as too big for the zone; `fill` then stores a part).
//!
//! Input: one byte (bit 0: type=ip), then the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::list::{state, Change, ListError, ListKind, ListTable};

fuzz_target!(|data: &[u8]| {
    let Some((&control, file)) = data.split_first() else {
        return;
    };
    let kind = if control & 1 != 0 {
        ListKind::Ip
    } else {
        ListKind::String
    };
    let Ok(entries) = state::decode(file, kind) else {
        return;
    };
    let encoded = state::encode(kind, &entries);
    assert_eq!(state::decode(&encoded, kind).as_ref(), Ok(&entries));

    let mut region = vec![0u64; (16 << 10) / 8];
    let region: &mut [u8] = bytemuck::cast_slice_mut(&mut region);
    let mut table = ListTable::init(region, kind).expect("region");
    let changes: Vec<Change<'_>> = entries
        .iter()
        .map(|e| Change::Insert {
            key: e.key.as_bytes(),
            value: e.value.as_bytes(),
            expires_at_ms: e.expires_at_ms,
        })
        .collect();
    // At time 0 no entry has expired (0 is never, anything else is later).
    match table.apply(&changes, 0) {
        Ok(()) => {
            let mut loaded = table.entries(0);
            let mut wanted = entries.clone();
            loaded.sort_by(|a, b| a.key.cmp(&b.key));
            wanted.sort_by(|a, b| a.key.cmp(&b.key));
            assert_eq!(loaded, wanted);
        }
        Err(ListError::Full) => assert!(table.is_empty()),
        Err(other) => panic!("decode accepted what apply refuses: {other}"),
    }

    // A zone too small for the file: fill stores what fits, each as written.
    let mut small = vec![0u64; (4 << 10) / 8];
    let small: &mut [u8] = bytemuck::cast_slice_mut(&mut small);
    let mut table = ListTable::init(small, kind).expect("region");
    let stored = table.fill(&entries, 0);
    assert_eq!(table.len(), stored);
    for entry in table.entries(0) {
        assert!(entries.contains(&entry), "{entry:?}");
    }
});
