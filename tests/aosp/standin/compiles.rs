//! The control for must_not_compile/: what upstream accepts compiles against the stand-ins too.
pub fn features() -> binder::BinderFeatures {
    let mut f = binder::BinderFeatures::default();
    f.set_requesting_sid = true;
    f
}

pub fn code(s: binder::StatusCode) -> i32 {
    match s {
        binder::StatusCode::OK => 0,
        _ => 1,
    }
}

pub fn dup(fd: &binder::ParcelFileDescriptor) -> std::io::Result<binder::ParcelFileDescriptor> {
    let owned: &std::os::fd::OwnedFd = fd.as_ref();
    Ok(binder::ParcelFileDescriptor::new(owned.try_clone()?))
}
