//! Fuzzes the paths of the HTTP API (`sift_core::api_route`): any path
//! below any location prefix routes without a panic, and what it names is
//! a part of the path: a list or top name is one non-empty segment, an
//! entry's key the non-empty rest after its list's name; the JSON of the
//! index, names and top answers stays well-formed for any names.
//!
//! Input: one byte, the prefix's length (modulo the input), then the
//! prefix, then the path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::api_route::{render_index, render_names, render_top, route, Route};

fn is_segment(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'/')
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (prefix, path) = rest.split_at(split);
    match route(path, prefix) {
        Route::List(name) | Route::Top(name) => {
            assert!(is_segment(name));
            assert!(contains(path, name));
        }
        Route::Entry(name, key) => {
            assert!(is_segment(name));
            assert!(!key.is_empty());
            assert!(path.ends_with(key));
        }
        Route::Index | Route::Lists | Route::Tops | Route::NotFound => {}
    }
    // Names as the API renders them: the answers are JSON whatever they hold.
    let text = String::from_utf8_lossy(path);
    let names: Vec<&str> = text.split('/').collect();
    for json in [
        render_index(&names, &names),
        render_names(&names),
        render_top(
            &names
                .iter()
                .map(|n| (n.to_string(), n.len() as u64))
                .collect::<Vec<_>>(),
        ),
    ] {
        assert!(json.starts_with('{') || json.starts_with('['));
        assert!(json.ends_with('}') || json.ends_with(']'));
        assert!(!json.contains('\n'));
    }
});
