# Appended to nginx's objs/Makefile: how make builds sift's static library.
# Make cannot see Rust dependencies, so the rule always runs cargo, which
# rebuilds only what changed.

cat << END                                                  >> $NGX_MAKEFILE

$sift_staticlib: sift_always_run_cargo
	NGINX_BUILD_DIR="$sift_objs_dir" $SIFT_CARGO rustc --release --lib \\
		--manifest-path "$sift_src_dir/Cargo.toml" \\
		--crate-type staticlib --no-default-features \\
		--target-dir "$sift_target_dir"

sift_always_run_cargo:

$NGX_OBJS${ngx_dirsep}ngx_stream_sift_module$ngx_modext: $sift_staticlib

END
