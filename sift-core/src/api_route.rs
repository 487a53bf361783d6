//! The paths of sift's HTTP API (`location /sift/ { sift_api; }`): what a
//! request's path names, below the location's own prefix.
//!
//! | path (below the prefix) | route |
//! |---|---|
//! | `` | [`Route::Index`] |
//! | `lists`, `lists/` | [`Route::Lists`] |
//! | `lists/NAME`, `lists/NAME/` | [`Route::List`] |
//! | `lists/NAME/KEY` (KEY may hold `/`: `10.0.0.0/8`) | [`Route::Entry`] |
//! | `top`, `top/` | [`Route::Tops`] |
//! | `top/NAME`, `top/NAME/` | [`Route::Top`] |
//! | anything else | [`Route::NotFound`] |

/// What a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// Everything that exists: lists and tops.
    Index,
    /// The list names.
    Lists,
    /// One list.
    List(&'a [u8]),
    /// One entry of a list: (list, key).
    Entry(&'a [u8], &'a [u8]),
    /// The `sift_top` zone names.
    Tops,
    /// One `sift_top` zone.
    Top(&'a [u8]),
    NotFound,
}

/// Routes `path` (nginx's decoded `$uri`) of a location whose prefix is
/// `prefix` (`/sift/` or `/sift`). A path outside the prefix (a regex
/// location, say) is routed from its first `lists` or `top` segment.
pub fn route<'a>(path: &'a [u8], prefix: &[u8]) -> Route<'a> {
    let below = if !prefix.is_empty() && path.starts_with(prefix) {
        &path[prefix.len()..]
    } else {
        match find_section(path) {
            Some(at) => &path[at..],
            None => return Route::NotFound,
        }
    };
    route_below(trim_slashes(below))
}

fn trim_slashes(mut path: &[u8]) -> &[u8] {
    while let Some(rest) = path.strip_prefix(b"/") {
        path = rest;
    }
    path
}

/// Where the first `/lists` or `/top` segment starts (after its slash).
fn find_section(path: &[u8]) -> Option<usize> {
    let mut at = 0;
    for segment in path.split(|&b| b == b'/') {
        if segment == b"lists" || segment == b"top" {
            return Some(at);
        }
        at += segment.len() + 1;
    }
    None
}

fn route_below(below: &[u8]) -> Route<'_> {
    if below.is_empty() {
        return Route::Index;
    }
    let (section, rest) = match below.iter().position(|&b| b == b'/') {
        Some(slash) => (&below[..slash], &below[slash + 1..]),
        None => (below, &b""[..]),
    };
    let (name, key) = match rest.iter().position(|&b| b == b'/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..]),
        None => (rest, &b""[..]),
    };
    match (section, name.is_empty(), key.is_empty()) {
        (b"lists", true, true) => Route::Lists,
        (b"lists", false, true) => Route::List(name),
        (b"lists", false, false) => Route::Entry(name, key),
        (b"top", true, true) => Route::Tops,
        (b"top", false, true) => Route::Top(name),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_below_the_prefix() {
        let p = b"/sift/";
        assert_eq!(route(b"/sift/", p), Route::Index);
        assert_eq!(route(b"/sift", b"/sift"), Route::Index);
        assert_eq!(route(b"/sift/lists", p), Route::Lists);
        assert_eq!(route(b"/sift/lists/", p), Route::Lists);
        assert_eq!(route(b"/sift/lists/ja4", p), Route::List(b"ja4"));
        assert_eq!(route(b"/sift/lists/ja4/", p), Route::List(b"ja4"));
        assert_eq!(
            route(b"/sift/lists/ja4/t13d1516h2_8daaf6152771_b186095e22b6", p),
            Route::Entry(b"ja4", b"t13d1516h2_8daaf6152771_b186095e22b6")
        );
        assert_eq!(
            route(b"/sift/lists/nets/10.0.0.0/8", p),
            Route::Entry(b"nets", b"10.0.0.0/8")
        );
        assert_eq!(route(b"/sift/top", p), Route::Tops);
        assert_eq!(route(b"/sift/top/fp", p), Route::Top(b"fp"));
        assert_eq!(route(b"/sift/top/fp/", p), Route::Top(b"fp"));
        assert_eq!(route(b"/sift/top/fp/x", p), Route::NotFound);
        assert_eq!(route(b"/sift/other", p), Route::NotFound);
        assert_eq!(route(b"/sift/lists//x", p), Route::NotFound);
        assert_eq!(route(b"/sift/listsx/a", p), Route::NotFound);
    }

    #[test]
    fn routes_without_the_prefix() {
        assert_eq!(route(b"/api/lists/a", b"~ ^/api"), Route::List(b"a"));
        assert_eq!(route(b"/api/top/t", b""), Route::Top(b"t"));
        assert_eq!(route(b"/api/", b"~ x"), Route::NotFound);
    }

    #[test]
    fn never_panics_on_odd_paths() {
        for path in [
            &b""[..],
            b"/",
            b"//",
            b"lists",
            b"/lists/",
            b"\xff/top/\x00",
            b"/sift/lists/a/b/c/",
        ] {
            let _ = route(path, b"/sift/");
            let _ = route(path, b"");
        }
    }
}

/// `GET /sift/`: `{"lists":["a","b"],"tops":["t"]}`.
pub fn render_index(lists: &[&str], tops: &[&str]) -> String {
    let names = |names: &[&str]| serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
    format!("{{\"lists\":{},\"tops\":{}}}", names(lists), names(tops))
}

/// `GET /sift/lists` or `/sift/top`: `["a","b"]`.
pub fn render_names(names: &[&str]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".into())
}

/// `GET /sift/top/NAME`: `[{"key":"...","count":N},...]`, heaviest first.
pub fn render_top(keys: &[(String, u64)]) -> String {
    let mut out = String::from("[");
    for (i, (key, count)) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key = serde_json::to_string(key).unwrap_or_else(|_| "\"\"".into());
        out.push_str(&format!("{{\"key\":{key},\"count\":{count}}}"));
    }
    out.push(']');
    out
}

#[cfg(test)]
mod render_tests {
    use super::*;

    #[test]
    fn renders_json() {
        assert_eq!(
            render_index(&["a\"b"], &[]),
            r#"{"lists":["a\"b"],"tops":[]}"#
        );
        assert_eq!(render_names(&["x", "y"]), r#"["x","y"]"#);
        assert_eq!(
            render_top(&[("t13d".into(), 7), ("0x7f".into(), 2)]),
            r#"[{"key":"t13d","count":7},{"key":"0x7f","count":2}]"#
        );
    }
}
