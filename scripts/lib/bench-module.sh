# Sourced by the benchmark scripts: the module they load.
# bench_module NAME: SIFT_BENCH_MODULE if set (a prebuilt .so), else the
# release build (built now); exits with NAME's error when there is none.
bench_module() {
    local module=${SIFT_BENCH_MODULE:-}
    if [ -z "$module" ]; then
        printf '==> %s\n' "building the release module" >&2
        scripts/build-module.sh release "$top/target/modules/release" >/dev/null
        module=$top/target/modules/release/ngx_stream_sift_module.so
    fi
    [ -f "$module" ] || { echo "$1: no module at $module" >&2; exit 1; }
    printf '%s\n' "$module"
}
