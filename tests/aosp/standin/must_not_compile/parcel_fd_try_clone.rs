//! expect: E0599
//! libbinder_rs's ParcelFileDescriptor has no `try_clone` (clone the OwnedFd it holds).
pub fn dup(fd: &binder::ParcelFileDescriptor) -> std::io::Result<binder::ParcelFileDescriptor> {
    fd.try_clone()
}
