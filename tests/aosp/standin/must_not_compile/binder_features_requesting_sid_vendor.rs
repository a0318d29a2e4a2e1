//! expect: E0609
//! cfg: android_vndk android_vendor
//! A vendor build of libbinder_rs (`android_vndk`) has no `set_requesting_sid`.
pub fn features() -> binder::BinderFeatures {
    let mut f = binder::BinderFeatures::default();
    f.set_requesting_sid = true;
    f
}
