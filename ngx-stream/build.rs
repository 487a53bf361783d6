//! Reads the facts nginx-sys exports about the nginx it was built against
//! (`DEP_NGINX_*`, from its `links = "nginx"`) and turns them into cfgs and
//! constants, so code that differs between nginx versions is chosen when
//! the module is built, for the nginx it will be loaded into.

use std::env;

fn main() {
    for var in [
        "DEP_NGINX_VERSION",
        "DEP_NGINX_VERSION_NUMBER",
        "DEP_NGINX_FEATURES",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let version = env::var("DEP_NGINX_VERSION").unwrap_or_default();
    let number: u64 = env::var("DEP_NGINX_VERSION_NUMBER")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);

    // nginx 1.25.5 reads the preread phase's bytes with MSG_PEEK where the
    // event method allows it (epoll with EPOLLRDHUP, kqueue): the bytes
    // stay in the socket, `c->buffer` is emptied after every call, and a
    // client's close shows as `pending_eof`, not `eof`.
    println!("cargo::rustc-check-cfg=cfg(ngx_stream_preread_peek)");
    if number >= 1_025_005 {
        println!("cargo::rustc-cfg=ngx_stream_preread_peek");
    }
    // nginx 1.25.5 also groups a stream block's `listen`s by port and
    // address (for `server_name`) instead of keeping one array of them.
    println!("cargo::rustc-check-cfg=cfg(ngx_stream_virtual_servers)");
    if number >= 1_025_005 {
        println!("cargo::rustc-cfg=ngx_stream_virtual_servers");
    }
    println!("cargo::rustc-env=NGX_STREAM_NGINX_VERSION={version}");
    println!("cargo::rustc-env=NGX_STREAM_NGINX_VERSION_NUMBER={number}");

    // Unit tests never call into nginx, but the code they link
    // names nginx's symbols, which only the nginx binary provides.
    println!("cargo::rustc-link-arg=-Wl,--unresolved-symbols=ignore-all,-z,lazy");
}
